#!/usr/bin/env python3
"""Checks what the receiving server stored in a Maildir.

Each stored message is the server's trace block followed by the content
exactly as received (examples/server/handler.rs):

    Return-Path: <from>
    X-Envelope-To: <rcpt>      (one per recipient; Delivered-To: in LMTP mode)
    Received: from ... (folded with tabs; the last line carries the date)

This script splits that block off, checks it against the expected envelope
and compares the rest byte for byte with the content the client was given.
"""

import argparse
import os
import sys


def split_trace(data):
    """Returns (return_path, recipients, received, content) or raises."""
    lines_end = 0
    fields = []
    while True:
        end = data.find(b"\r\n", lines_end)
        if end < 0:
            raise ValueError("trace block not terminated")
        line = data[lines_end:end]
        if fields and line.startswith(b"\t") and fields[-1][0] == b"Received":
            fields[-1] = (b"Received", fields[-1][1] + b"\r\n" + line)
        elif not fields or fields[-1][0] != b"Received":
            name, sep, value = line.partition(b": ")
            if not sep:
                raise ValueError(f"unexpected trace line {line!r}")
            fields.append((name, value))
        else:
            break
        lines_end = end + 2
    names = [name for name, _ in fields]
    if names[0] != b"Return-Path" or names[-1] != b"Received":
        raise ValueError(f"unexpected trace fields {names}")
    recipients = [value for name, value in fields[1:-1]]
    labels = set(names[1:-1])
    return fields[0][1], labels, recipients, fields[-1][1], data[lines_end:]


def first_difference(got, want):
    for index, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return index
    return min(len(got), len(want))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("maildir")
    parser.add_argument("--count", type=int, required=True, help="messages expected in new/")
    parser.add_argument("--expect", help="file holding the exact content each message must have")
    parser.add_argument("--from", dest="sender", help="expected Return-Path, e.g. <a@b>")
    parser.add_argument("--to", action="append", default=[], help="expected recipient (repeat)")
    parser.add_argument("--recipients-each", type=int, help="recipients every message must list")
    parser.add_argument("--label", default="X-Envelope-To", help="recipient trace field name")
    parser.add_argument("--with", dest="protocol", help="expected protocol in Received (ESMTPSA...)")
    args = parser.parse_args()

    new_dir = os.path.join(args.maildir, "new")
    names = sorted(os.listdir(new_dir))
    leftovers = os.listdir(os.path.join(args.maildir, "tmp"))
    problems = []
    if len(names) != args.count:
        problems.append(f"{len(names)} messages in new/, expected {args.count}")
    if leftovers:
        problems.append(f"{len(leftovers)} files left in tmp/")
    want = None
    if args.expect:
        with open(args.expect, "rb") as f:
            want = f.read()
    seen_recipients = []
    for name in names:
        with open(os.path.join(new_dir, name), "rb") as f:
            data = f.read()
        try:
            sender, labels, recipients, received, content = split_trace(data)
        except ValueError as error:
            problems.append(f"{name}: {error}")
            continue
        seen_recipients.extend(r.decode("utf-8", "replace") for r in recipients)
        if labels and labels != {args.label.encode()}:
            problems.append(f"{name}: recipient fields {labels}, expected {args.label}")
        if args.sender is not None and sender != args.sender.encode():
            problems.append(f"{name}: Return-Path {sender!r}, expected {args.sender!r}")
        if args.recipients_each is not None and len(recipients) != args.recipients_each:
            problems.append(f"{name}: {len(recipients)} recipients, expected {args.recipients_each}")
        if args.protocol and f" with {args.protocol} id ".encode() not in received:
            problems.append(f"{name}: Received {received!r} lacks 'with {args.protocol}'")
        if want is not None and content != want:
            at = first_difference(content, want)
            problems.append(
                f"{name}: content differs at byte {at} (stored {len(content)} bytes, sent {len(want)}): "
                f"stored {content[max(0, at - 20):at + 40]!r} vs sent {want[max(0, at - 20):at + 40]!r}"
            )
    if args.to and sorted(seen_recipients) != sorted(args.to):
        problems.append(f"recipients {sorted(seen_recipients)}, expected {sorted(args.to)}")
    for problem in problems[:10]:
        print("maildir_check:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
