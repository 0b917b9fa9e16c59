"""Server-sent events as the providers frame them, written one event per write with a delay."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import orjson
from aiohttp import web

__all__ = ["DONE", "SSE_HEADERS", "data_event", "named_event", "write_events"]

# What OpenAI and Anthropic send with a stream (charset included, no buffering by proxies).
SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}

DONE = b"data: [DONE]\n\n"  # OpenAI's end-of-stream sentinel


def data_event(payload: Any) -> bytes:
    """OpenAI framing: `data: {json}` and a blank line."""
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def named_event(payload: dict[str, Any]) -> bytes:
    """Anthropic framing: `event: <type>`, then `data: {json}` (the type repeated inside)."""
    return b"event: " + str(payload["type"]).encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"


async def write_events(
    request: web.Request, events: Iterable[bytes], delay: float, headers: dict[str, str] | None = None
) -> web.StreamResponse:
    """Send `events` as a stream: headers at once, then each event as its own write, `delay`
    seconds apart (none before the first), so clients see them arrive one by one."""
    resp = web.StreamResponse(status=200, headers={**SSE_HEADERS, **(headers or {})})
    await resp.prepare(request)
    for i, event in enumerate(events):
        if i and delay > 0:
            await asyncio.sleep(delay)
        await resp.write(event)
    await resp.write_eof()
    return resp
