"""The bytes every benchmark sends and expects: request bodies, the upstream's JSON and SSE events.

Deterministic, so a client can check that what it received through a proxy is byte for byte what
the upstream sent.
"""

from __future__ import annotations

import orjson

_PROMPT = (
    "Summarise the following support ticket in two sentences and propose a next step. "
    "Customer reports that exports to CSV time out for reports larger than 50,000 rows since the "
    "upgrade on Tuesday; smaller reports work. They run the self-hosted edition 4.12 on two nodes "
    "behind a load balancer, PostgreSQL 15, and the export worker logs show repeated retries "
    "after 30 seconds. They need the quarterly report by Friday and ask whether a configuration "
    "change can raise the limit or whether they should split the export."
)
_MESSAGES = [
    {"role": "system", "content": "You are a concise, helpful support assistant."},
    {"role": "user", "content": _PROMPT},
]

# A request a legacy app sends to a reasoning model: max_tokens and temperature need rewriting
# (provider-rules.md §1.1, §1.2).
BODY_REWRITE: bytes = orjson.dumps(
    {"model": "o4-mini", "messages": _MESSAGES, "max_tokens": 512, "temperature": 0.7, "user": "bench"}
)
# The same request to a model that accepts it as is: forwarded with its original bytes.
BODY_PLAIN: bytes = orjson.dumps(
    {"model": "gpt-4o-mini", "messages": _MESSAGES, "max_tokens": 512, "temperature": 0.7, "user": "bench"}
)
BODIES: dict[str, bytes] = {"rewrite": BODY_REWRITE, "plain": BODY_PLAIN}


def stream_body(model: str = "o4-mini") -> bytes:
    """A streaming chat request (needs rewrites for o4-mini)."""
    return orjson.dumps(
        {"model": model, "messages": _MESSAGES, "max_tokens": 256, "temperature": 0.2, "stream": True}
    )


# About 1 KB, the size of a short non-streaming chat completion. No `$` or `'`: nginx serves it
# from a `return` directive.
RESPONSE_JSON: bytes = orjson.dumps(
    {
        "id": "chatcmpl-bench0000000000000000000001",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "o4-mini-2025-04-16",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": (
                        "Large CSV exports time out after the 4.12 upgrade because the export worker "
                        "stops at its 30 second limit and retries. Raise export.worker_timeout to 300 "
                        "seconds on both nodes, or split the quarterly report by month; the first "
                        "keeps a single file, the second needs no restart. " * 2
                    ),
                    "refusal": None,
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 143, "completion_tokens": 118, "total_tokens": 261},
        "system_fingerprint": "fp_bench",
    }
)

DONE_EVENT = b"data: [DONE]\n\n"


def sse_event(i: int) -> bytes:
    """Event `i` of a chat completion stream (~230 bytes, like a real token chunk)."""
    return (
        b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
        b'"model":"o4-mini-2025-04-16","system_fingerprint":"fp_bench","choices":[{"index":0,'
        b'"delta":{"content":" token%d"},"logprobs":null,"finish_reason":null}]}\n\n' % i
    )


def sse_stream(events: int) -> bytes:
    """Everything a stream of `events` events carries, [DONE] included."""
    return b"".join(sse_event(i) for i in range(events)) + DONE_EVENT
