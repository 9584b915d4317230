"""Sends COUNT messages, each over its own connection, to 127.0.0.1:PORT from
the source address 127.0.0.2, as a client elsewhere than the balancer would.

    python3 through_balancer.py PORT COUNT
"""

import smtplib
import sys


def main() -> None:
    port, count = int(sys.argv[1]), int(sys.argv[2])
    for number in range(count):
        with smtplib.SMTP("127.0.0.1", port, source_address=("127.0.0.2", 0)) as smtp:
            smtp.sendmail(
                "a@example.org",
                ["b@example.net"],
                f"Subject: through the balancer {number}\r\n\r\nHello\r\n",
            )


if __name__ == "__main__":
    main()
