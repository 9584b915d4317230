#!/usr/bin/env python3
"""Writes the fixed messages the interop cases send, CRLF line ends, into DIR.

Each file is what a client is given and, byte for byte, what the server must
store after its trace block.
"""

import os
import sys

HEADERS = (
    "From: Sender <sender@example.org>\r\n"
    "To: Rcpt <rcpt@example.net>\r\n"
    "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <{name}@interop.example.org>\r\n"
    "Subject: interop {name}\r\n"
)


def message(name, body, extra_headers=""):
    return (HEADERS.format(name=name) + extra_headers + "\r\n").encode() + body


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    files = {}
    files["plain.eml"] = message("plain", b"Hello from the interop tests.\r\nSecond line.\r\n")
    files["dots.eml"] = message(
        "dots",
        b".\r\n..\r\n...\r\n.leading dot\r\n..two dots\r\nmiddle . dot\r\n .space first\r\n"
        b"\r\n.\r\nlast line\r\n",
    )
    files["eightbit.eml"] = message(
        "eightbit",
        "Grüße, ça va? Ελληνικά, 日本語.\r\n".encode()
        + b"Latin-1 bytes: \xe9\xe8\xff\x80\r\n",
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n",
    )
    files["utf8.eml"] = (
        "From: Jörg <jörg@exämple.org>\r\n"
        "To: Ñandú <ñandú@exämple.org>\r\n"
        "Date: Fri, 27 Nov 2026 10:00:00 +0000\r\n"
        "Message-ID: <utf8@interop.example.org>\r\n"
        "Subject: Grüße\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        "Ünïcödé everywhere.\r\n"
    ).encode()
    # 1 MiB body of 76-column lines, with a leading dot every 97th line so
    # dot-stuffing is exercised across buffer boundaries.
    lines = []
    size = 0
    number = 0
    while size < 1024 * 1024:
        prefix = "." if number % 97 == 0 else ""
        line = f"{prefix}{number:08d} " + "abcdefghijklmnopqrstuvwxyz0123456789" * 2
        line = line[:76] + "\r\n"
        lines.append(line)
        size += len(line)
        number += 1
    files["big.eml"] = message("big", "".join(lines).encode())
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
