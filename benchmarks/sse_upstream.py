"""A tiny, fast SSE upstream: `POST <any path>?events=N&gap_ms=G` streams N chat chunks + [DONE].

Plain asyncio streams and a hand-written HTTP/1.1 exchange (keep-alive, chunked responses), so the
upstream costs little next to the proxies measured in front of it. Run as
`python -m benchmarks.sse_upstream --port P`; it prints `ready` once listening.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from urllib.parse import parse_qs, urlsplit

from benchmarks.payloads import DONE_EVENT, sse_event

_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)
_MAX_HEAD = 64 * 1024
_MAX_EVENTS = 100_000


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Serve one request; False when the connection should close."""
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    _method, target, _version = request_line.split(" ", 2)
    length = 0
    close = False
    for line in lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
    if length:
        await reader.readexactly(length)
    query = parse_qs(urlsplit(target).query)
    events = min(int(query.get("events", ["10"])[0]), _MAX_EVENTS)
    gap = float(query.get("gap_ms", ["0"])[0]) / 1000
    writer.write(_HEAD)
    for i in range(events):
        if i:
            # Even at 0 ms, yield between events so concurrent streams interleave like real tokens.
            await asyncio.sleep(gap)
        writer.write(_chunk(sse_event(i)))
        await writer.drain()
    writer.write(_chunk(DONE_EVENT) + b"0\r\n\r\n")
    await writer.drain()
    return not close


async def _connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await _exchange(reader, writer):
            pass
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def serve(host: str, port: int) -> None:
    server = await asyncio.start_server(_connection, host, port, limit=_MAX_HEAD, backlog=4096)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
