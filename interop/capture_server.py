#!/usr/bin/env python3
"""A real third-party SMTP server (aiosmtpd) that keeps what clients send.

For cases where one of this crate's clients is the sender: each accepted
message is written as DIR/N.eml (the content exactly as received, dot-
stuffing removed, CRLF line ends kept) beside DIR/N.json (envelope and
parameters). Prints "listening on 127.0.0.1:PORT" once ready; stops on
SIGINT or SIGTERM.

    capture_server.py DIR [--tls-cert PEM --tls-key PEM] [--users FILE]
"""

import argparse
import json
import os
import signal
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Capture:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump(
                {
                    "mail_from": envelope.mail_from,
                    "mail_options": envelope.mail_options,
                    "rcpt_tos": envelope.rcpt_tos,
                    "tls": session.ssl is not None,
                    "authenticated": session.authenticated,
                },
                f,
                ensure_ascii=False,
            )
        return "250 2.0.0 captured"


def authenticator_for(path):
    users = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            name, sep, password = line.rstrip("\r\n").partition(":")
            if sep:
                users[name.encode()] = password.encode()

    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = users.get(auth_data.login) == auth_data.password
        return AuthResult(success=ok)

    return authenticate


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("directory")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--users", help="user:password lines; AUTH PLAIN/LOGIN then required")
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)

    options = {"enable_SMTPUTF8": True, "decode_data": False}
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options["tls_context"] = context
    if args.users:
        options["authenticator"] = authenticator_for(args.users)
        options["auth_require_tls"] = bool(args.tls_cert)
        options["auth_required"] = True
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    # Blocked before the server thread starts, so only sigwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    controller = Controller(Capture(args.directory), hostname="127.0.0.1", port=port, **options)
    controller.start()
    print(f"listening on 127.0.0.1:{port}", flush=True)
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
