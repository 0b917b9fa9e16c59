"""Removing injected thinking from Anthropic responses (issue 4, "Response side").

Anthropic streams thinking as `content_block_*` events of type `thinking` (with `thinking_delta`
and `signature_delta`) before the text block (provider-rules.md §1.4, "Thinking output format").
"""

from __future__ import annotations

import random

import orjson
import pytest

from sidecar.rewrite.injected import AnthropicThinkingStreamFilter, strip_thinking_from_message


def sse(event: str, data: dict) -> bytes:
    return f"event: {event}\ndata: ".encode() + orjson.dumps(data) + b"\n\n"


def block_events(index: int, block: dict, deltas: list[dict]) -> list[bytes]:
    events = [
        sse("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
    ]
    events += [
        sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
        for d in deltas
    ]
    events.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


START = sse("message_start", {"type": "message_start", "message": {"id": "msg_1", "content": []}})
PING = sse("ping", {"type": "ping"})
END = [
    sse(
        "message_delta",
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
    ),
    sse("message_stop", {"type": "message_stop"}),
]
THINKING = block_events(
    0,
    {"type": "thinking", "thinking": "", "signature": ""},
    [
        {"type": "thinking_delta", "thinking": 'Let me check "index": 4'},
        {"type": "signature_delta", "signature": "EqQB"},
    ],
)
REDACTED = block_events(1, {"type": "redacted_thinking", "data": "EmwKAhgB"}, [])


def text_block(index: int) -> list[bytes]:
    return block_events(index, {"type": "text", "text": ""}, [{"type": "text_delta", "text": "Hello"}])


def tool_block(index: int) -> list[bytes]:
    return block_events(
        index,
        {"type": "tool_use", "id": "toolu_1", "name": "get", "input": {}},
        [{"type": "input_json_delta", "partial_json": '{"index": 1}'}],
    )


def run(stream: bytes, seed: int) -> bytes:
    """Feed the stream in random splits, as TCP delivers it."""
    rng = random.Random(seed)
    flt = AnthropicThinkingStreamFilter()
    out, pos = [], 0
    while pos < len(stream):
        step = rng.randint(1, 40)
        out.append(flt.feed(stream[pos : pos + step]))
        pos += step
    out.append(flt.flush())
    return b"".join(out)


@pytest.mark.parametrize("seed", range(20))
def test_thinking_blocks_dropped_and_following_indexes_renumbered(seed):
    upstream = b"".join([START, *THINKING, *REDACTED, PING, *text_block(2), *tool_block(3), *END])
    expected = b"".join([START, PING, *text_block(0), *tool_block(1), *END])
    assert run(upstream, seed) == expected


@pytest.mark.parametrize("seed", range(5))
def test_stream_without_thinking_is_byte_identical(seed):
    upstream = b"".join([START, PING, *text_block(0), *tool_block(1), *END])
    assert run(upstream, seed) == upstream


def test_events_are_released_as_soon_as_complete():
    flt = AnthropicThinkingStreamFilter()
    assert flt.feed(START[:10]) == b""
    assert flt.feed(START[10:]) == START
    assert flt.feed(b"".join(THINKING)) == b""
    text = text_block(1)
    assert flt.feed(text[0]) == text_block(0)[0]


def test_crlf_separated_events():
    upstream = b"".join([START, *THINKING, *text_block(1), *END]).replace(b"\n", b"\r\n")
    expected = b"".join([START, *text_block(0), *END]).replace(b"\n", b"\r\n")
    assert run(upstream, 1) == expected


def test_non_streaming_message_loses_only_thinking_blocks():
    message = {
        "id": "msg_1",
        "type": "message",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "EqQB"},
            {"type": "redacted_thinking", "data": "xx"},
            {"type": "text", "text": "Hello"},
        ],
        "stop_reason": "end_turn",
    }
    out = orjson.loads(strip_thinking_from_message(orjson.dumps(message)))
    assert out["content"] == [{"type": "text", "text": "Hello"}]
    assert list(out) == list(message)


def test_non_streaming_without_thinking_or_not_json_is_unchanged():
    plain = b'{"id": "msg_1", "content": [{"type": "text", "text": "Hi"}]}'
    assert strip_thinking_from_message(plain) is plain
    assert strip_thinking_from_message(b"not json") == b"not json"
