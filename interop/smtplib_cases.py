#!/usr/bin/env python3
"""Python's smtplib as the client: one case per invocation, exit 0 on success.

    smtplib_cases.py CASE PORT MESSAGE [CAFILE USER PASSWORD]
"""

import smtplib
import ssl
import sys

HOST = "127.0.0.1"
SENDER = "sender@example.org"


def expect(condition, what):
    if not condition:
        raise SystemExit(f"smtplib_cases: {what}")


def recipients(port, message):
    to = [f"rcpt{n}@example.net" for n in range(1, 6)]
    with smtplib.SMTP(HOST, port) as smtp:
        refused = smtp.sendmail(SENDER, to, message)
    expect(refused == {}, f"refused {refused}")


def eightbitmime(port, message):
    with smtplib.SMTP(HOST, port) as smtp:
        smtp.ehlo()
        expect(smtp.has_extn("8bitmime"), "8BITMIME not advertised")
        refused = smtp.sendmail(SENDER, ["rcpt@example.net"], message, mail_options=["BODY=8BITMIME"])
    expect(refused == {}, f"refused {refused}")


def smtputf8(port, message):
    with smtplib.SMTP(HOST, port) as smtp:
        smtp.ehlo()
        expect(smtp.has_extn("smtputf8"), "SMTPUTF8 not advertised")
        refused = smtp.sendmail(
            "jörg@example.org", ["ñandú@example.net"], message, mail_options=["SMTPUTF8", "BODY=8BITMIME"]
        )
    expect(refused == {}, f"refused {refused}")


def starttls_login(port, message, cafile, user, password):
    context = ssl.create_default_context(cafile=cafile)
    with smtplib.SMTP(HOST, port) as smtp:
        smtp.ehlo()
        expect(not smtp.has_extn("auth"), "AUTH offered before TLS")
        smtp.starttls(context=context)
        smtp.ehlo()
        expect("PLAIN" in smtp.esmtp_features.get("auth", "").split(), "AUTH PLAIN not offered after TLS")
        smtp.login(user, password)
        refused = smtp.sendmail(SENDER, ["rcpt@example.net"], message)
    expect(refused == {}, f"refused {refused}")


def lmtp(port, message):
    to = ["one@example.net", "two@example.net"]
    with smtplib.LMTP(HOST, port) as client:
        code, _ = client.ehlo()  # sends LHLO
        expect(code == 250, f"LHLO answered {code}")
        code, _ = client.mail(SENDER)
        expect(code == 250, f"MAIL answered {code}")
        for rcpt in to:
            code, _ = client.rcpt(rcpt)
            expect(code == 250, f"RCPT answered {code}")
        # RFC 2033 §4.2: one reply per accepted recipient after the data;
        # smtplib reads the first, the rest are read here.
        replies = [client.data(message)[0]]
        replies += [client.getreply()[0] for _ in to[1:]]
        expect(replies == [250, 250], f"per-recipient replies {replies}")


CASES = {
    "recipients": recipients,
    "8bitmime": eightbitmime,
    "smtputf8": smtputf8,
    "starttls-login": starttls_login,
    "lmtp": lmtp,
}


def main():
    case, port, path, *extra = sys.argv[1:]
    with open(path, "rb") as f:
        message = f.read()
    CASES[case](int(port), message, *extra)


if __name__ == "__main__":
    main()
