"""Remove from a response only what the sidecar itself caused: thinking it injected.

When the sidecar turns thinking on for a client that never asked for it (an operator `inject`
policy), the Anthropic response carries `thinking` / `redacted_thinking` content blocks the client
cannot handle. These filters drop exactly those blocks and renumber the following block indexes;
every other byte passes through unchanged, and every other event as soon as it is complete.
Responses to requests the sidecar did not alter this way never reach this module (DESIGN.md §4.4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

__all__ = ["THINKING_BLOCK_TYPES", "AnthropicThinkingStreamFilter", "strip_thinking_from_message"]

THINKING_BLOCK_TYPES = frozenset({"thinking", "redacted_thinking"})

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")
_INDEX = re.compile(rb'("index"\s*:\s*)(\d+)')
_BLOCK_EVENTS = (b"content_block_start", b"content_block_delta", b"content_block_stop")


def strip_thinking_from_message(body: bytes) -> bytes:
    """A non-streaming Messages response without its thinking blocks (unchanged if none)."""
    try:
        message: Any = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        return body
    kept = [b for b in content if not (isinstance(b, dict) and b.get("type") in THINKING_BLOCK_TYPES)]
    if len(kept) == len(content):
        return body
    message["content"] = kept
    return orjson.dumps(message)


class AnthropicThinkingStreamFilter:
    """Incremental SSE filter: feed upstream chunks, get the bytes to send to the client.

    Works at event granularity: an event is held only until its blank-line terminator arrives.
    """

    def __init__(self) -> None:
        self._pending = b""
        self._dropped: set[int] = set()  # upstream indexes of thinking blocks
        self.events_dropped = 0

    def feed(self, chunk: bytes) -> bytes:
        self._pending += chunk
        out: list[bytes] = []
        for event in self._complete_events():
            kept = self._filter(event)
            if kept:
                out.append(kept)
        return b"".join(out)

    def flush(self) -> bytes:
        """Whatever is left when the upstream ends (an unterminated last event) passes as is."""
        rest, self._pending = self._pending, b""
        return self._filter(rest) if rest else b""

    def _complete_events(self) -> Iterator[bytes]:
        start = 0
        for match in _EVENT_END.finditer(self._pending):
            yield self._pending[start : match.end()]
            start = match.end()
        self._pending = self._pending[start:]

    def _filter(self, event: bytes) -> bytes:
        if not any(name in event for name in _BLOCK_EVENTS):
            return event  # message_start, ping, message_delta, message_stop, error: untouched
        index_match = _INDEX.search(event)
        if index_match is None:
            return event
        index = int(index_match.group(2))
        if b"content_block_start" in event and self._starts_thinking(event):
            self._dropped.add(index)
        if index in self._dropped:
            self.events_dropped += 1
            return b""
        shift = sum(1 for dropped in self._dropped if dropped < index)
        if not shift:
            return event
        new_index = str(index - shift).encode()
        return event[: index_match.start(2)] + new_index + event[index_match.end(2) :]

    @staticmethod
    def _starts_thinking(event: bytes) -> bool:
        for line in event.splitlines():
            if line.startswith(b"data:"):
                try:
                    data = orjson.loads(line[5:])
                except orjson.JSONDecodeError:
                    return False
                block = data.get("content_block") if isinstance(data, dict) else None
                return isinstance(block, dict) and block.get("type") in THINKING_BLOCK_TYPES
        return False
