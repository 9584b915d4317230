"""Reads delivery status notifications with Python's `email` package and
checks them against what the sender asked (RFC 3461, RFC 3464).

    dsn_reports.py EXPECTED MESSAGE...

EXPECTED is a JSON object: for each report, keyed by its kind
("failure", "success"), the recipients it must name, each with its Action
and, when given, its Original-Recipient; and "envid", the
Original-Envelope-Id each report must carry. Each MESSAGE is a stored
report (a Maildir file). Prints one line per check; exits 1 on the first
mismatch.
"""

import email
import email.policy
import json
import sys


def fail(text):
    print(f"FAIL {text}")
    sys.exit(1)


def delivery_status(path):
    with open(path, "rb") as file:
        message = email.message_from_binary_file(file, policy=email.policy.compat32)
    if message.get_content_type() != "multipart/report":
        fail(f"{path}: {message.get_content_type()}, not multipart/report")
    if message.get_param("report-type") != "delivery-status":
        fail(f"{path}: report-type {message.get_param('report-type')}")
    if message["Return-Path"] != "<>":
        fail(f"{path}: Return-Path {message['Return-Path']}, not <>")
    parts = [part for part in message.walk() if part.get_content_type() == "message/delivery-status"]
    if len(parts) != 1:
        fail(f"{path}: {len(parts)} message/delivery-status parts")
    # The email package parses the part into its blocks of fields: the
    # per-message one, then one per recipient (RFC 3464 §2.1).
    blocks = parts[0].get_payload()
    return message, blocks[0], blocks[1:]


def main():
    expected = json.loads(sys.argv[1])
    seen = {}
    for path in sys.argv[2:]:
        message, per_message, recipients = delivery_status(path)
        actions = {block["Action"] for block in recipients}
        kind = "failure" if actions == {"failed"} else "success"
        if kind in seen:
            fail(f"{path}: a second {kind} report")
        seen[kind] = path
        if per_message["Original-Envelope-Id"] != expected["envid"]:
            fail(f"{path}: Original-Envelope-Id {per_message['Original-Envelope-Id']}")
        if not per_message["Reporting-MTA"] or not per_message["Arrival-Date"]:
            fail(f"{path}: no Reporting-MTA or Arrival-Date")
        got = {}
        for block in recipients:
            address = block["Final-Recipient"].split(";", 1)[1].strip()
            got[address] = {"action": block["Action"]}
            if block["Original-Recipient"]:
                got[address]["orcpt"] = block["Original-Recipient"]
        if got != expected[kind]:
            fail(f"{path}: {kind} report names {got}, expected {expected[kind]}")
        # RET=HDRS: the original's header only.
        returned = [part for part in message.walk() if part.get_content_type() == "text/rfc822-headers"]
        if kind == "failure" and (len(returned) != 1 or "Subject:" not in returned[0].get_payload()):
            fail(f"{path}: the failure report does not return the header")
        print(f"PASS {kind} report: {sorted(got.items())}")
    if set(seen) != set(expected) - {"envid"}:
        fail(f"reports {sorted(seen)}, expected {sorted(set(expected) - {'envid'})}")


main()
