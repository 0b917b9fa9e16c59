"""What counting SSE events costs per relayed chunk (decides whether sidecar_stream_events_total stays).

    .venv/bin/python benchmarks/stream_events_cost.py

Prints nanoseconds per chunk for the relay loop's bookkeeping with and without the count, for
typical chunk shapes: one small OpenAI delta event, a batch of events, a large coalesced read.
"""

from __future__ import annotations

import timeit

from sidecar.observe import SseEventCounter

CHUNKS = {
    "1 event (120 B)": b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hello"}}]}'
    + b" " * 38
    + b"\n\n",
    "8 events (1 KiB)": (b"data: " + b"x" * 120 + b"\n\n") * 8,
    "crlf 8 events": (b"data: " + b"x" * 120 + b"\r\n\r\n") * 8,
    "64 KiB read": (b"data: " + b"x" * 500 + b"\n\n") * 128,
}


def main() -> None:
    n = 200_000
    for name, chunk in CHUNKS.items():
        base = timeit.timeit("total += len(chunk)", setup="total = 0", globals={"chunk": chunk}, number=n)
        counted = timeit.timeit(
            "total += len(chunk); feed(chunk)",
            setup="total = 0; feed = SseEventCounter().feed",
            globals={"chunk": chunk, "SseEventCounter": SseEventCounter},
            number=n,
        )
        print(
            f"{name:18s} without: {base / n * 1e9:7.1f} ns  with count: {counted / n * 1e9:7.1f} ns  "
            f"added: {(counted - base) / n * 1e9:7.1f} ns/chunk"
        )


if __name__ == "__main__":
    main()
