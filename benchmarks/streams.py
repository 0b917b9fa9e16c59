"""The streaming load: many concurrent SSE requests, each timed event by event and checked byte for byte.

A raw asyncio HTTP/1.1 client (no aiohttp), so the client's own cost stays small and identical for
every target, and so the bytes compared are exactly the decoded body the proxy relayed.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass, field

from benchmarks.payloads import sse_stream, stream_body

__all__ = ["StreamResult", "StreamScenario", "hold_idle_streams", "run_streams"]


@dataclass(frozen=True)
class StreamScenario:
    name: str
    streams: int
    events: int
    gap_ms: float


@dataclass
class StreamResult:
    """One scenario against one target."""

    ttfb: list[float] = field(default_factory=list)  # seconds, request sent -> first event complete
    worst_gap_inflation: float = 0.0  # seconds: max over all events of (observed gap - nominal gap)
    events: int = 0
    identical: int = 0
    failed: int = 0
    elapsed: float = 0.0

    @property
    def all_identical(self) -> bool:
        return self.failed == 0 and self.identical > 0

    @property
    def ttfb_p50(self) -> float:
        return statistics.median(self.ttfb) if self.ttfb else float("nan")


class _ChunkedDecoder:
    """Incremental `Transfer-Encoding: chunked` decoder (strict enough for a benchmark)."""

    def __init__(self) -> None:
        self.buf = b""
        self.remaining = 0  # data bytes left in the current chunk; 0 = a size line comes next
        self.skip = 0  # bytes of the CRLF after a chunk's data still to discard
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        out = bytearray()
        while not self.done:
            if self.skip:
                dropped = min(self.skip, len(self.buf))
                self.buf = self.buf[dropped:]
                self.skip -= dropped
                if self.skip:
                    break
            if self.remaining == 0:
                end = self.buf.find(b"\r\n")
                if end < 0:
                    break
                size = int(self.buf[:end].split(b";", 1)[0], 16)
                self.buf = self.buf[end + 2 :]
                if size == 0:
                    self.done = True
                    break
                self.remaining = size
            take = self.buf[: self.remaining]
            if not take:
                break
            out += take
            self.buf = self.buf[len(take) :]
            self.remaining -= len(take)
            if self.remaining == 0:
                self.skip = 2
        return bytes(out)


def _request(host: str, port: int, path: str, events: int, gap_ms: float, body: bytes) -> bytes:
    return (
        f"POST {path}?events={events}&gap_ms={gap_ms:g} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nAuthorization: Bearer sk-bench\r\nAccept: text/event-stream\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


async def _one_stream(
    host: str, port: int, path: str, scenario: StreamScenario, body: bytes, result: StreamResult
) -> None:
    expected = sse_stream(scenario.events)
    nominal = scenario.gap_ms / 1000
    reader, writer = await asyncio.open_connection(host, port)
    try:
        started = time.perf_counter()
        writer.write(_request(host, port, path, scenario.events, scenario.gap_ms, body))
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        lower = head.lower()
        chunked = b"transfer-encoding: chunked" in lower
        decoder = _ChunkedDecoder() if chunked else None
        received = bytearray()
        seen_events = 0
        last: float | None = None
        worst = 0.0
        while True:
            data = await reader.read(65536)
            if not data:
                break
            now = time.perf_counter()
            received += decoder.feed(data) if decoder is not None else data
            complete = received.count(b"\n\n")
            if complete > seen_events:
                if last is None:
                    result.ttfb.append(now - started)
                else:
                    worst = max(worst, now - last - nominal)
                seen_events = complete
                last = now
            if decoder is not None and decoder.done:
                break
        result.events += max(seen_events - 1, 0)  # [DONE] is not a forwarded token event
        result.worst_gap_inflation = max(result.worst_gap_inflation, worst)
        if status == 200 and bytes(received) == expected:
            result.identical += 1
        else:
            result.failed += 1
    finally:
        writer.close()


async def run_streams(
    host: str, port: int, path: str, scenario: StreamScenario, timeout: float, model: str = "o4-mini"
) -> StreamResult:
    """All `scenario.streams` streams at once; bounded by `timeout` seconds in total."""
    result = StreamResult()
    body = stream_body(model)
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(_one_stream(host, port, path, scenario, body, result))
        for _ in range(scenario.streams)
    ]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    result.failed += len(pending) + sum(1 for t in done if t.exception() is not None)
    result.elapsed = time.perf_counter() - started
    return result


async def hold_idle_streams(
    host: str, port: int, path: str, count: int, timeout: float
) -> tuple[int, list[asyncio.StreamWriter]]:
    """Open `count` streams that send one event and then stay silent; return them still open.

    The caller measures memory while they are held, then closes the writers.
    """
    body = stream_body()
    writers: list[asyncio.StreamWriter] = []
    sem = asyncio.Semaphore(100)  # open in waves: a listen backlog overflow is not what we measure

    async def open_one() -> bool:
        async with sem:
            reader, writer = await asyncio.open_connection(host, port)
            writers.append(writer)
            # 2 events a minute apart: the first proves the stream is live, the second never comes.
            writer.write(_request(host, port, path, 2, 60_000, body))
            await reader.readuntil(b"\r\n\r\n")
            await reader.readuntil(b"\n\n")
            return True

    tasks = [asyncio.create_task(open_one()) for _ in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    live = sum(1 for t in done if t.exception() is None)
    return live, writers
