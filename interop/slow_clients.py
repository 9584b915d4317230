#!/usr/bin/env python3
"""Slow clients and a full connection table against the receiving server.

Run by interop/slow_clients.sh, which starts the server with --timeout,
--max-connections and --max-connections-per-ip and passes the same figures
here. Everything goes over loopback; the connections that fill the table
come from 127.0.0.2, 127.0.0.3, ... (every 127/8 address is loopback on
Linux), each holding exactly the per-address limit, so 127.0.0.1 is free
for the normal clients and one full address shows the per-address refusal.

Checks, each printed PASS or FAIL (the exit status is 1 if any failed):
  full-table     with the table full, a client gets 421 and is closed;
  per-address    once slots free, a client from a full address still gets
                 421 naming that address;
  served         a normal client from 127.0.0.1 delivers a message;
  slow-closed    every slow client is closed within --timeout (plus slack)
                 of the start of its request: a command line trickled one
                 byte at a time, or message content trickled after 354;
  honest         a sender above the minimum data rate, whose message takes
                 longer than --timeout, gets it delivered (checked in the
                 Maildir);
  tmp-clean      the slow DATA clients left no file in tmp/.

With --flood N it checks instead a server started with fewer descriptors
than connections allowed: N connections at once run it out of descriptors,
and once they close a normal client is served at once (the server paused
its accepts instead of spinning; the shell script counts its log lines).
"""

import argparse
import asyncio
import os
import random
import sys
import time

EHLO = b"EHLO slow.example\r\n"
# A command line too long to finish at one byte every few seconds.
SLOW_LINE = b"HELO " + b"slow-client." * 8 + b"example\r\n"


class Check:
    def __init__(self):
        self.failed = []

    def report(self, name, ok, detail):
        print(f"{'PASS' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if not ok:
            self.failed.append(name)


async def read_reply(reader, limit=30):
    """One reply's last line (b'' at EOF)."""
    while True:
        line = await asyncio.wait_for(reader.readline(), limit)
        if len(line) < 4 or line[3:4] != b"-":
            return line


async def connect(args, source, limit=10):
    return await asyncio.wait_for(
        asyncio.open_connection("127.0.0.1", args.port, local_addr=(source, 0)), limit
    )


async def command(reader, writer, line, expect):
    writer.write(line)
    await writer.drain()
    reply = await read_reply(reader)
    if not reply.startswith(expect):
        raise RuntimeError(f"{line.strip()!r} got {reply!r}")
    return reply


async def until_closed(reader, limit):
    """Reads until EOF; the time it came, or None past `limit` seconds."""
    try:
        while await asyncio.wait_for(reader.read(4096), limit):
            pass
    except asyncio.TimeoutError:
        return None
    except OSError:
        pass
    return time.monotonic()


async def trickle(writer, data, interval):
    """Writes `data` one byte every `interval` seconds, again and again,
    until the connection fails."""
    await asyncio.sleep(random.uniform(0, interval))
    try:
        while True:
            for byte in data:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(interval)
    except OSError:
        pass


async def slow_client(args, source, in_data, number, ready):
    """Holds a connection with a slow request; returns the seconds from the
    start of that request to the server's close, or None if still open
    after --hold. Adds itself to the set `ready` once the request starts."""
    reader, writer = await connect(args, source)
    try:
        greeting = await read_reply(reader)
        if not greeting.startswith(b"220"):
            raise RuntimeError(f"slow client {number} from {source} got {greeting!r}")
        if in_data:
            await command(reader, writer, EHLO, b"250")
            await command(reader, writer, b"MAIL FROM:<slow@example.org>\r\n", b"250")
            await command(reader, writer, b"RCPT TO:<postmaster@example.net>\r\n", b"250")
            await command(reader, writer, b"DATA\r\n", b"354")
            data = f"Subject: slow {number}\r\n\r\n".encode() + b"a slow line of content\r\n" * 4
        else:
            data = SLOW_LINE
        started = time.monotonic()
        ready.add(number)
        sender = asyncio.create_task(trickle(writer, data, args.interval))
        closed = await until_closed(reader, args.hold)
        sender.cancel()
        return None if closed is None else closed - started
    finally:
        writer.close()


async def idle_client(args, source):
    """A connection that says nothing after the greeting."""
    reader, writer = await connect(args, source)
    greeting = await read_reply(reader)
    if not greeting.startswith(b"220"):
        writer.close()
        raise RuntimeError(f"idle client from {source} got {greeting!r}")
    return reader, writer


async def first_line(args, source):
    """The first line a new connection from `source` gets, and whether the
    server then closed it."""
    reader, writer = await connect(args, source)
    try:
        line = await read_reply(reader)
        closed = await until_closed(reader, 5) is not None
        return line, closed
    finally:
        writer.close()


async def deliver(args, source, marker, size, rate):
    """Sends one message of about `size` octets at `rate` octets/s (at
    once when 0); returns the reply to its end."""
    reader, writer = await connect(args, source)
    try:
        greeting = await read_reply(reader)
        if not greeting.startswith(b"220"):
            return greeting
        await command(reader, writer, EHLO, b"250")
        await command(reader, writer, b"MAIL FROM:<honest@example.org>\r\n", b"250")
        await command(reader, writer, b"RCPT TO:<postmaster@example.net>\r\n", b"250")
        await command(reader, writer, b"DATA\r\n", b"354")
        content = f"Subject: {marker}\r\n\r\n".encode()
        line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789\r\n"
        content += line * max(1, size // len(line))
        step = 0.1
        chunk = max(1, int(rate * step)) if rate else len(content)
        for start in range(0, len(content), chunk):
            writer.write(content[start : start + chunk])
            await writer.drain()
            if rate:
                await asyncio.sleep(step)
        writer.write(b".\r\n")
        await writer.drain()
        reply = await read_reply(reader, 60)
        writer.write(b"QUIT\r\n")
        return reply
    finally:
        writer.close()


def delivered(maildir, marker):
    """Whether a file in new/ holds the message marked `marker`."""
    new = os.path.join(maildir, "new")
    needle = f"Subject: {marker}\r\n".encode()
    for name in os.listdir(new):
        with open(os.path.join(new, name), "rb") as file:
            if needle in file.read():
                return True
    return False


async def retry(make, accept, seconds):
    """Calls `make` until `accept` likes its result or `seconds` pass."""
    deadline = time.monotonic() + seconds
    while True:
        result = await make()
        if accept(result) or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.1)


async def run(args):
    check = Check()
    total = args.slow + args.idle
    if total != args.max_connections:
        raise SystemExit("the slow and idle clients must fill --max-connections exactly")
    # Connection i comes from 127.0.0.(2 + i // per_ip): each address holds
    # the per-address limit, the last one perhaps fewer.
    sources = [f"127.0.0.{2 + i // args.per_ip}" for i in range(total)]
    if 2 + (total - 1) // args.per_ip > 254:
        raise SystemExit("too many connections for one /24 of loopback addresses")

    print(
        f"opening {args.slow} slow clients ({args.data_share}% in DATA, one byte every "
        f"{args.interval} s) and {args.idle} idle connections from "
        f"{sources[0]}..{sources[-1]}",
        flush=True,
    )
    began = time.monotonic()
    slow = []
    ready = set()
    for i in range(args.slow):
        in_data = i * 100 < args.slow * args.data_share
        slow.append(asyncio.create_task(slow_client(args, sources[i], in_data, i, ready)))
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    idle = []
    for i in range(args.slow, total):
        idle.append(await idle_client(args, sources[i]))
    # The table is full once every slow client has its greeting (and its
    # 354), or has failed.
    while len(ready | {i for i, task in enumerate(slow) if task.done()}) < args.slow:
        if time.monotonic() - began > args.timeout:
            raise SystemExit("the slow clients took longer than --timeout to start")
        await asyncio.sleep(0.05)
    print(f"{total} connections open after {time.monotonic() - began:.1f} s", flush=True)

    line, closed = await first_line(args, "127.0.0.1")
    check.report(
        "full-table",
        line.startswith(b"421 4.7.0 ") and b"Too many connections," in line and closed,
        f"{line.decode(errors='replace').strip()!r}, closed: {closed}",
    )

    # Two slots free; the address of the first slow clients is still full.
    for reader, writer in idle[-2:]:
        writer.close()
    line, closed = await retry(
        lambda: first_line(args, sources[0]),
        lambda result: b"Too many connections," not in result[0],
        5,
    )
    check.report(
        "per-address",
        line.startswith(b"421 4.7.0 ")
        and f"from {sources[0]}".encode() in line
        and closed,
        f"{line.decode(errors='replace').strip()!r}, closed: {closed}",
    )

    reply = await retry(
        lambda: deliver(args, "127.0.0.1", "normal client", 2000, 0),
        lambda reply: not reply.startswith(b"421"),
        5,
    )
    check.report(
        "served",
        reply.startswith(b"250") and delivered(args.maildir, "normal client"),
        f"once two slots freed: {reply.decode(errors='replace').strip()!r}",
    )

    async def honest_sender():
        started = time.monotonic()
        reply = await deliver(
            args, "127.0.0.1", "honest slow sender", args.honest_size, args.honest_rate
        )
        return reply, time.monotonic() - started

    honest = asyncio.create_task(honest_sender())
    held = await asyncio.gather(*slow, return_exceptions=True)
    errors = [result for result in held if isinstance(result, BaseException)]
    still_open = sum(1 for result in held if result is None)
    times = [result for result in held if isinstance(result, float)]
    bound = args.timeout + args.slack
    longest = max(times) if times else 0.0
    if still_open:
        longest = max(longest, args.hold)
    check.report(
        "slow-closed",
        not errors and not still_open and longest <= bound,
        f"longest held {longest:.1f} s{'+' if still_open else ''}, bound {bound:.1f} s "
        f"(--timeout {args.timeout} s + {args.slack} s slack); "
        f"{len(times)} closed, {still_open} still open after {args.hold} s"
        + (f", {len(errors)} failed: {errors[0]!r}" if errors else ""),
    )

    try:
        reply, took = await honest
    except (OSError, RuntimeError, asyncio.TimeoutError) as error:
        reply, took = repr(error).encode(), 0.0
    check.report(
        "honest",
        reply.startswith(b"250") and delivered(args.maildir, "honest slow sender"),
        f"{args.honest_size} octets at {args.honest_rate} octets/s with --timeout "
        f"{args.timeout} s, in {took:.0f} s: "
        f"{reply.decode(errors='replace').strip()!r}",
    )

    for reader, writer in idle[:-2]:
        writer.close()
    if not still_open:
        tmp = os.listdir(os.path.join(args.maildir, "tmp"))
        check.report("tmp-clean", not tmp, f"{len(tmp)} file(s) left in tmp/")
    return check.failed


async def flood(args):
    check = Check()
    held = []
    for _ in range(args.flood):
        try:
            held.append(await connect(args, "127.0.0.1", 1))
        except (OSError, asyncio.TimeoutError):
            # The listen queue is full too.
            break
    # Give the server time to run out of descriptors and keep failing.
    await asyncio.sleep(2)
    greeted = 0
    for reader, writer in held:
        try:
            if (await asyncio.wait_for(reader.readline(), 0.01)).startswith(b"220"):
                greeted += 1
        except (OSError, asyncio.TimeoutError):
            pass
        writer.close()
    print(f"{len(held)} connections made, {greeted} greeted before they closed", flush=True)
    started = time.monotonic()
    reply = await retry(
        lambda: deliver(args, "127.0.0.1", "after the flood", 2000, 0),
        lambda reply: reply.startswith(b"250"),
        10,
    )
    check.report(
        "served-after-flood",
        reply.startswith(b"250") and delivered(args.maildir, "after the flood"),
        f"{time.monotonic() - started:.1f} s after the flood closed: "
        f"{reply.decode(errors='replace').strip()!r}",
    )
    return check.failed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", required=True)
    parser.add_argument("--timeout", type=float, required=True, help="the server's --timeout")
    parser.add_argument("--max-connections", type=int, required=True)
    parser.add_argument("--per-ip", type=int, required=True)
    parser.add_argument("--slow", type=int, required=True)
    parser.add_argument("--idle", type=int, required=True)
    parser.add_argument("--data-share", type=int, default=50, help="percent of slow clients in DATA")
    parser.add_argument("--interval", type=float, default=2, help="seconds between a slow client's bytes")
    parser.add_argument("--hold", type=float, required=True, help="longest wait for a slow client to be closed")
    parser.add_argument("--slack", type=float, default=2, help="allowed past --timeout")
    parser.add_argument("--honest-size", type=int, default=100_000)
    parser.add_argument("--honest-rate", type=int, default=2000)
    parser.add_argument("--flood", type=int, help="only the descriptor-exhaustion check, with this many connections")
    args = parser.parse_args()
    failed = asyncio.run(flood(args) if args.flood else run(args))
    if failed:
        print(f"failed: {', '.join(failed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
