"""Issue 4's matrix: every client reasoning intent x every target family, through the real engine
(the shipped rule packs, thinking step then rules), checked against provider-rules.md."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sidecar.config import Dialect
from sidecar.rewrite.engine import Policy, rewrite
from sidecar.rewrite.knowledge import load_knowledge
from sidecar.rewrite.thinking import REASONING_FIELDS

RESOLVER = load_knowledge().resolver({})
CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
OC = Dialect.OPENAI_COMPATIBLE

# model id -> (dialect, path, what the provider wants: style, accepted efforts)
TARGETS: dict[str, tuple[Dialect, str, str, tuple[str, ...]]] = {
    "o4-mini": (Dialect.OPENAI, CHAT, "openai", ("low", "medium", "high")),  # §1.1
    "o1-mini": (Dialect.OPENAI, CHAT, "openai", ()),  # §1.1: "Unknown parameter: 'reasoning_effort'"
    "gpt-5-mini": (Dialect.OPENAI, CHAT, "openai", ("minimal", "low", "medium", "high")),  # §1.2
    "gpt-5.1": (Dialect.OPENAI, CHAT, "openai", ("none", "low", "medium", "high")),  # §1.2
    "gpt-4o": (Dialect.OPENAI, CHAT, "none", ()),
    "claude-3-7-sonnet-20250219": (Dialect.ANTHROPIC, MESSAGES, "budget", ()),  # §1.4
    "claude-sonnet-4-5-20250929": (Dialect.ANTHROPIC, MESSAGES, "budget", ()),
    "claude-sonnet-4-6": (Dialect.ANTHROPIC, MESSAGES, "adaptive", ("low", "medium", "high", "max")),
    "claude-opus-4-7": (
        Dialect.ANTHROPIC,
        MESSAGES,
        "adaptive_only",
        ("low", "medium", "high", "xhigh", "max"),
    ),
    "claude-3-5-sonnet-20241022": (Dialect.ANTHROPIC, MESSAGES, "none", ()),
    # The seed: a LiteLLM proxy in front of Bedrock Claude takes `thinking` in a chat body (§1.12).
    "litellm_proxy/anthropic.claude-3-7-sonnet-20250219-v1:0": (OC, CHAT, "budget", ()),
    "gemini-2.5-flash": (OC, CHAT, "openai", ("none", "low", "medium", "high")),  # §1.6 compat
    "Qwen/Qwen3-8B": (OC, CHAT, "vllm", ()),  # §1.8
    "deepseek-chat": (OC, CHAT, "deepseek", ("high", "max")),  # §1.7
    "deepseek-reasoner": (OC, CHAT, "none", ()),  # §1.7 legacy R1
    "grok-3-mini": (OC, CHAT, "openai", ("low", "high")),  # §1.10
    "grok-4": (OC, CHAT, "openai", ()),  # §1.10: rejects reasoning_effort
    "mistral-large-latest": (OC, CHAT, "none", ()),  # §1.11
}

INTENTS: dict[str, dict[str, Any]] = {
    "effort high": {"reasoning_effort": "high"},
    "effort minimal": {"reasoning_effort": "minimal"},
    "effort xhigh": {"reasoning_effort": "xhigh"},
    "effort dict": {"reasoning_effort": {"effort": "low"}},
    "effort none": {"reasoning_effort": "none"},
    "budget 1024": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    "budget 500": {"thinking": {"type": "enabled", "budget_tokens": 500}},
    "budget over max_tokens": {"thinking": {"type": "enabled", "budget_tokens": 8000}, "max_tokens": 2000},
    "adaptive + effort": {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}},
    "disabled": {"thinking": {"type": "disabled"}},
    "openrouter reasoning": {"reasoning": {"effort": "high"}},
    "openrouter budget": {"reasoning": {"max_tokens": 3000}},
    "vllm kwargs": {"chat_template_kwargs": {"enable_thinking": True}},
    "thinking + sampling": {
        "thinking": {"type": "enabled", "budget_tokens": 2048},
        "temperature": 0.3,
        "top_k": 5,
    },
}


def present_reasoning_fields(body: dict[str, Any]) -> set[str]:
    """Which of the known reasoning fields a body carries (shared with test_thinking.py)."""
    found = set()
    for path in REASONING_FIELDS:
        node: Any = body
        for part in path.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if node is not None:
            found.add(path)
    return found


def _check(kind: str, efforts: tuple[str, ...], body: dict[str, Any]) -> None:
    present = present_reasoning_fields(body)
    if kind == "none":
        assert present == set()  # a target that cannot think gets no reasoning field
    elif kind == "openai":
        assert present <= {"reasoning_effort"}  # §1.12 unknown kwargs (thinking) break OpenAI SDK hops
        if "reasoning_effort" in body:
            assert body["reasoning_effort"] in efforts  # §1.1/§1.2 "Unsupported value"
    elif kind in ("budget", "adaptive", "adaptive_only"):
        assert present <= {"thinking", "output_config.effort"}
        thinking = body.get("thinking")
        if kind == "budget":
            assert "output_config" not in body
            if thinking and thinking["type"] == "enabled":
                assert thinking["budget_tokens"] >= 1024  # §1.4 budget floor
                assert body["max_tokens"] > thinking["budget_tokens"]  # §1.4 budget < max_tokens
        if kind == "adaptive_only" and thinking:
            assert thinking["type"] != "enabled"  # §1.4 Opus 4.7: "thinking.type.enabled" is not supported
        if thinking and thinking["type"] != "disabled":
            assert body.get("temperature", 1) == 1  # §1.4 "temperature may only be set to 1"
            assert "top_k" not in body
        if "output_config" in body:
            assert body["output_config"]["effort"] in efforts
    elif kind == "vllm":
        assert present == {"chat_template_kwargs.enable_thinking"}  # §1.8
    elif kind == "deepseek":
        assert present <= {"thinking", "reasoning_effort"}
        assert set(body["thinking"]) == {"type"}  # §1.7: budget_tokens is not DeepSeek's
        if "reasoning_effort" in body:
            assert body["reasoning_effort"] in efforts


@pytest.mark.parametrize("intent", INTENTS)
@pytest.mark.parametrize("model", TARGETS)
def test_intent_x_target_obeys_provider_rules(model, intent):
    dialect, path, kind, efforts = TARGETS[model]
    body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **copy.deepcopy(INTENTS[intent])}
    if dialect is Dialect.ANTHROPIC and "max_tokens" not in body:
        body["max_tokens"] = 16000
    original = copy.deepcopy(body)
    profile = RESOLVER.resolve(path, model)
    result = rewrite(dialect, profile, body, Policy())
    assert body == original, "the caller's body is never mutated"
    _check(kind, efforts, result.body)
    assert result.body["messages"] == [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("model", "intent", "expected"),
    [
        # §2.2 effort -> budget (low/medium/high = 1024/2048/4096); max_tokens = budget + 4096 (§2.1).
        ("litellm_proxy/anthropic.claude-3-7-sonnet-20250219-v1:0", {"reasoning_effort": "high"},
         {"thinking": {"type": "enabled", "budget_tokens": 4096}, "max_tokens": 8192}),
        ("claude-sonnet-4-6", {"reasoning_effort": "low", "max_tokens": 100},
         {"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}),
        # §2.4 budget -> effort; then fitted into o4-mini's set.
        ("o4-mini", {"thinking": {"type": "enabled", "budget_tokens": 1024}}, {"reasoning_effort": "low"}),
        ("o4-mini", {"reasoning_effort": "minimal"}, {"reasoning_effort": "low"}),
        ("gpt-5-mini", {"reasoning_effort": "xhigh"}, {"reasoning_effort": "high"}),
        ("gpt-5.1", {"thinking": {"type": "disabled"}}, {"reasoning_effort": "none"}),
        ("Qwen/Qwen3-8B", {"reasoning_effort": "none"}, {"chat_template_kwargs": {"enable_thinking": False}}),
        ("deepseek-chat", {"reasoning_effort": "low"}, {"thinking": {"type": "enabled"}, "reasoning_effort": "high"}),
    ],
)  # fmt: skip
def test_translated_values(model, intent, expected):
    dialect, path, _, _ = TARGETS[model]
    body = {"model": model, "messages": [], **intent}
    result = rewrite(dialect, RESOLVER.resolve(path, model), body, Policy())
    for key, value in expected.items():
        assert result.body[key] == value, key


def test_seed_case_thinking_with_sampling_on_a_litellm_route():
    # The seed (provider-rules.md §1.12, §4 items 1-2): thinking reaches the upstream valid, and the
    # temperature thinking forbids is removed by the rule pack (§1.4).
    model = "litellm_proxy/anthropic.claude-3-7-sonnet-20250219-v1:0"
    body = {"model": model, "messages": [], "thinking": {"type": "enabled", "budget_tokens": 1024},
            "temperature": 0.7, "stream": True}  # fmt: skip
    result = rewrite(OC, RESOLVER.resolve(CHAT, model), body, Policy())
    assert result.body == {"model": model, "messages": [], "thinking": {"type": "enabled", "budget_tokens": 1024},
                           "stream": True, "max_tokens": 5120}  # fmt: skip
    assert {c.rule for c in result.changes} == {"thinking.max_tokens", "claude-thinking-temperature"}


def test_unknown_models_are_left_alone():
    body = {
        "model": "acme-internal-7b",
        "messages": [],
        "reasoning_effort": "high",
        "thinking": {"type": "enabled"},
    }
    result = rewrite(OC, RESOLVER.resolve(CHAT, "acme-internal-7b"), body, Policy())
    assert result.body is body and result.changes == ()
