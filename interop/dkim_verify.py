#!/usr/bin/env python3
"""Verifies every DKIM signature of stored messages with dkimpy (Debian's
python3-dkim), the key records taken from a file instead of DNS.

    dkim_verify.py --records RECORDS --signatures N MESSAGE...

RECORDS holds one record a line: its name, a space, its text (what the key
helper prints, the quoted strings joined). Each MESSAGE must carry exactly
N DKIM-Signature fields, each of which must verify. Prints one line per
signature; exits 1 if any check fails.
"""

import argparse
import sys

import dkim


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", required=True)
    parser.add_argument("--signatures", type=int, required=True)
    parser.add_argument("messages", nargs="+")
    args = parser.parse_args()
    records = {}
    with open(args.records, encoding="ascii") as lines:
        for line in lines:
            name, text = line.rstrip("\n").split(" ", 1)
            records[name.rstrip(".").lower()] = text.encode("ascii")

    def lookup(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        return records.get(name.rstrip(".").lower())

    failed = 0
    for path in args.messages:
        with open(path, "rb") as file:
            message = file.read()
        verifier = dkim.DKIM(message)
        count = sum(
            1
            for name, _ in dkim.rfc822_parse(message)[0]
            if name.lower() == b"dkim-signature"
        )
        if count != args.signatures:
            print(f"FAIL {path}: {count} signatures, expected {args.signatures}")
            failed += 1
        for index in range(count):
            try:
                ok = verifier.verify(idx=index, dnsfunc=lookup)
            except dkim.DKIMException as error:
                ok = False
                print(f"  dkimpy: {error}")
            algorithm = verifier.signature_fields.get(b"a", b"?").decode()
            print(f"{'PASS' if ok else 'FAIL'} dkimpy {algorithm} {path}")
            failed += 0 if ok else 1
    sys.exit(1 if failed else 0)


main()
