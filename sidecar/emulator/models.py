"""The emulator's own tables of what each model accepts.

Deliberately independent of `sidecar/knowledge` and `sidecar/rewrite`: the emulator plays the
provider, so tests that send the sidecar's output here check the sidecar against a second,
separately written reading of `provider-rules.md`, not against itself. Each entry cites the section
it encodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CLAUDE_MODELS",
    "DEEPSEEK_MODELS",
    "OPENAI_MODELS",
    "ClaudeModel",
    "OpenAIModel",
    "claude_model",
    "openai_model",
]

# Sampling / scoring parameters the reasoning models reject as keys (§1.1, §1.2, §5.3).
_O_SERIES_REJECTED = frozenset(
    {"top_p", "presence_penalty", "frequency_penalty", "logprobs", "top_logprobs", "logit_bias"}
)


@dataclass(frozen=True, slots=True)
class OpenAIModel:
    """What one OpenAI chat-completions model accepts."""

    name: str
    max_tokens: bool = True  # False: `max_tokens` is rejected, use `max_completion_tokens` (§1.1)
    # "any": any value; "default": only 1, else `unsupported_value` (o1, o4-mini, gpt-5: §1.1, §1.2);
    # "key": any value but 1 gets `unsupported_parameter` wording (o3-mini, §1.1).
    temperature: Literal["any", "default", "key"] = "any"
    rejected: frozenset[str] = frozenset()  # keys rejected whatever their value
    # Accepted `reasoning_effort` values; None = not a reasoning model.
    efforts: tuple[str, ...] | None = None
    default_effort: str | None = None
    effort_unknown: bool = False  # o1-mini/preview answer `Unknown parameter` (§1.1)
    system_role: bool = True  # o1-mini/preview reject system and developer messages (§1.1)
    # gpt-5.1+: temperature/top_p/logprobs only when the effort is "none" (§1.2).
    sampling_needs_no_effort: bool = False
    chat_completions: bool = True  # False: Responses-API-only, 404 on chat completions (§1.1, §1.2)


_O_SERIES_ALL_REJECTED = _O_SERIES_REJECTED | {"parallel_tool_calls"}


def _reasoning(
    name: str,
    efforts: tuple[str, ...],
    *,
    temperature: Literal["default", "key"] = "default",
    rejected: frozenset[str] = _O_SERIES_ALL_REJECTED,
    default_effort: str = "medium",
    sampling_needs_no_effort: bool = False,
) -> OpenAIModel:
    """An OpenAI reasoning model: `max_tokens` rejected, a fixed set of efforts (§1.1, §1.2)."""
    return OpenAIModel(
        name=name,
        max_tokens=False,
        temperature=temperature,
        rejected=rejected,
        efforts=efforts,
        default_effort=default_effort,
        sampling_needs_no_effort=sampling_needs_no_effort,
    )


_LMH = ("low", "medium", "high")
_GPT5_EFFORTS = ("minimal", "low", "medium", "high")
_GPT51_EFFORTS = ("none", "low", "medium", "high")
# gpt-5 rejects the o-series list plus `stop` (§1.2 LiteLLM list, §5.3); it accepts
# parallel_tool_calls (only Azure's `minimal` footnote restricts it).
_GPT5_REJECTED = _O_SERIES_REJECTED | {"stop"}

OPENAI_MODELS: dict[str, OpenAIModel] = {
    m.name: m
    for m in (
        # Plain chat models accept every sampling parameter and `max_tokens`.
        *(
            OpenAIModel(name=n)
            for n in (
                "gpt-4o",
                "gpt-4o-mini",
                "chatgpt-4o-latest",
                "gpt-4.1",
                "gpt-4.1-mini",
                "gpt-4.1-nano",
                "gpt-4-turbo",
                "gpt-4",
                "gpt-3.5-turbo",
                # Behaves like a regular chat model: temperature and max_tokens accepted (§1.2, §5.1).
                "gpt-5-chat-latest",
            )
        ),
        # §1.1: o1-mini / o1-preview: no system role, no reasoning_effort.
        *(
            OpenAIModel(
                name=n,
                max_tokens=False,
                temperature="default",
                rejected=_O_SERIES_REJECTED,
                effort_unknown=True,
                system_role=False,
            )
            for n in ("o1-mini", "o1-preview")
        ),
        _reasoning("o1", _LMH),
        _reasoning("o3", _LMH),
        _reasoning("o4-mini", _LMH),
        _reasoning("o3-mini", _LMH, temperature="key"),
        # §1.2 gpt-5 family.
        *(
            _reasoning(n, _GPT5_EFFORTS, rejected=_GPT5_REJECTED)
            for n in ("gpt-5", "gpt-5-mini", "gpt-5-nano")
        ),
        _reasoning("gpt-5-pro", ("high",), rejected=_GPT5_REJECTED, default_effort="high"),
        *(
            _reasoning(
                n,
                efforts,
                rejected=_GPT5_REJECTED - {"top_p", "logprobs", "top_logprobs"},
                default_effort="none",
                sampling_needs_no_effort=True,
            )
            for n, efforts in (
                ("gpt-5.1", _GPT51_EFFORTS),
                ("gpt-5.2", (*_GPT51_EFFORTS, "xhigh")),
                ("gpt-5.4", (*_GPT51_EFFORTS, "xhigh")),
            )
        ),
        # gpt-5.2-chat-latest: max_completion_tokens only, temperature only 1 (§1.2, §3).
        OpenAIModel(name="gpt-5.2-chat-latest", max_tokens=False, temperature="default"),
        # Responses-API-only models (§1.1, §1.2).
        *(
            OpenAIModel(name=n, chat_completions=False)
            for n in (
                "o1-pro",
                "o3-pro",
                "codex-mini-latest",
                "gpt-5-codex",
                "gpt-5.1-codex-max",
                "gpt-5.3-codex",
            )
        ),
    )
}

_OPENAI_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def openai_model(name: str) -> OpenAIModel | None:
    """A model name as OpenAI accepts it: a known name or one of its dated snapshots."""
    found = OPENAI_MODELS.get(name)
    if found is None:
        found = OPENAI_MODELS.get(_OPENAI_SNAPSHOT.sub("", name))
    return found


ThinkingStyle = Literal["none", "budget", "budget_or_adaptive", "adaptive_only"]


@dataclass(frozen=True, slots=True)
class ClaudeModel:
    """What one Claude model accepts on the Messages API (§1.4 generation matrix)."""

    name: str
    thinking: ThinkingStyle
    efforts: frozenset[str] = field(default_factory=frozenset)  # `output_config.effort` values
    # Claude 4.5+: `temperature` and `top_p` together are rejected (§1.4).
    sampling_conflict: bool = False
    # Claude Opus 4.7: sampling parameters removed (§1.4 [NEWER]).
    sampling_removed: bool = False
    # Claude 4+: with the interleaved-thinking beta, budget_tokens may exceed max_tokens (§1.4).
    interleaved_beta: bool = False


_EFFORT_LMH = frozenset(_LMH)
CLAUDE_MODELS: dict[str, ClaudeModel] = {
    m.name: m
    for m in (
        *(
            ClaudeModel(name=n, thinking="none")
            for n in ("claude-3-haiku", "claude-3-opus", "claude-3-5-haiku", "claude-3-5-sonnet")
        ),
        ClaudeModel(name="claude-3-7-sonnet", thinking="budget"),
        *(
            ClaudeModel(name=n, thinking="budget", interleaved_beta=True)
            for n in ("claude-sonnet-4", "claude-opus-4", "claude-opus-4-1")
        ),
        *(
            ClaudeModel(name=n, thinking="budget", sampling_conflict=True, interleaved_beta=True)
            for n in ("claude-sonnet-4-5", "claude-haiku-4-5")
        ),
        ClaudeModel(
            name="claude-opus-4-5",
            thinking="budget",
            efforts=_EFFORT_LMH,
            sampling_conflict=True,
            interleaved_beta=True,
        ),
        ClaudeModel(
            name="claude-sonnet-4-6",
            thinking="budget_or_adaptive",
            efforts=_EFFORT_LMH,
            sampling_conflict=True,
            interleaved_beta=True,
        ),
        ClaudeModel(
            name="claude-opus-4-6",
            thinking="budget_or_adaptive",
            efforts=_EFFORT_LMH | {"max"},
            sampling_conflict=True,
            interleaved_beta=True,
        ),
        ClaudeModel(
            name="claude-opus-4-7",
            thinking="adaptive_only",
            efforts=_EFFORT_LMH | {"xhigh", "max"},
            sampling_conflict=True,
            sampling_removed=True,
            interleaved_beta=True,
        ),
    )
}

_CLAUDE_DATE = re.compile(r"-(\d{8}|latest)$")
# Bedrock ids as a LiteLLM proxy (or Bedrock itself) names them: region prefix, `anthropic.`,
# version suffix (§1.5, §3 item 4).
_BEDROCK_ID = re.compile(r"^(?:(?:us|eu|apac|global)\.)?anthropic\.(?P<model>.+?)(?:-v\d+(?::\d+)?)?$")


def claude_model(name: str, bedrock_ids: bool = False) -> ClaudeModel | None:
    """A Claude model by API name (`claude-sonnet-4-5-20250929`, `claude-opus-4-7`, `-latest`).

    With `bedrock_ids`, Bedrock-style ids (`us.anthropic.claude-3-7-sonnet-20250219-v1:0`) and
    `bedrock/` / `anthropic/` provider prefixes are accepted too, as a LiteLLM proxy accepts them.
    """
    if bedrock_ids:
        name = name.rsplit("/", 1)[-1]
        m = _BEDROCK_ID.match(name)
        if m:
            name = m["model"]
    return CLAUDE_MODELS.get(_CLAUDE_DATE.sub("", name)) or CLAUDE_MODELS.get(name)


# DeepSeek (§1.7): the reasoner follows the R1 rules (reasoning_content in input is rejected).
DEEPSEEK_MODELS: dict[str, bool] = {"deepseek-chat": False, "deepseek-reasoner": True}
