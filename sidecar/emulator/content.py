"""Deterministic response material: ids, text pieces, token counts.

Everything is a function of the request bytes and the event count, so two identical requests get
byte-identical answers and tests can compare bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["CREATED", "TOOL_INPUT", "Reply", "reply_for"]

# A fixed Unix time for `created`: real providers send the current time, tests want stable bytes.
CREATED = 1_750_000_000

_ANSWER = (
    "Hello",
    " from",
    " the",
    " llm-sidecar",
    " emulator",
    ".",
    " This",
    " reply",
    " is",
    " deterministic",
)
_THOUGHT = ("Let", " me", " think", " about", " this", " request", " step", " by", " step", ".")


# A forced tool call is answered with this input, streamed in these pieces.
TOOL_INPUT = {"query": "emulated"}
TOOL_INPUT_PIECES = ('{"query": ', '"emulated"}')


@dataclass(frozen=True, slots=True)
class Reply:
    """The material of one answer, shared by the JSON and the streaming form."""

    digest: str  # hex, from the request body: the base of every id
    text: tuple[str, ...]  # answer pieces, one per content event
    thinking: tuple[str, ...]  # reasoning pieces, one per reasoning event
    input_tokens: int
    tool: str | None = None  # the tool the request forced, answered with a call instead of text

    @property
    def output_tokens(self) -> int:
        return len(self.text)

    @property
    def reasoning_tokens(self) -> int:
        return len(self.thinking)

    @property
    def signature(self) -> str:
        """A stand-in for Anthropic's opaque thinking signature (stable per request)."""
        return "EmuSig" + hashlib.sha256(self.digest.encode()).hexdigest()[:40]

    def id(self, prefix: str) -> str:
        return prefix + self.digest[:24]


def _pieces(words: tuple[str, ...], count: int) -> tuple[str, ...]:
    return tuple(words[i % len(words)] for i in range(count))


def reply_for(body: bytes, events: int, thinking: bool, tool: str | None = None) -> Reply:
    """The answer to `body`: `events` text pieces, and as many thinking pieces when thinking; a
    call to `tool` instead of text when the request forced one."""
    events = max(1, events)
    return Reply(
        digest=hashlib.sha256(body).hexdigest(),
        text=_pieces(_ANSWER, events),
        thinking=_pieces(_THOUGHT, events) if thinking else (),
        input_tokens=max(1, len(body) // 4),  # roughly a token per 4 bytes, like the real tokenizers
        tool=tool,
    )
