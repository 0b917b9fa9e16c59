"""Properties over many generated bodies and every family: the engine never mutates its input,
every difference is accounted for by a change record, key order survives, and it is idempotent (a
fixed body needs no second fix)."""

from __future__ import annotations

import copy
import random
import re
from typing import Any

import pytest

from sidecar.config import Dialect
from sidecar.rewrite.engine import Policy, rewrite
from sidecar.rewrite.knowledge import load_knowledge

KNOWLEDGE = load_knowledge()
RESOLVER = KNOWLEDGE.resolver({})
# One model per family (the matrix in test_profile.py covers the matching itself).
MODELS = [
    "o1-mini", "o3", "o4-mini", "gpt-5", "gpt-5-mini", "gpt-5-pro", "gpt-5.1", "gpt-5.2",
    "gpt-5-chat-latest", "gpt-5.2-chat-latest", "gpt-4o", "claude-3-5-sonnet", "claude-3-7-sonnet",
    "claude-sonnet-4", "claude-sonnet-4-5", "claude-opus-4-6", "claude-opus-4-7", "claude-next",
    "deepseek-reasoner", "deepseek-chat", "grok-3", "grok-3-mini", "grok-4", "mistral-large",
    "gemini-2.5-pro", "demo1",
]  # fmt: skip
OPTIONAL: dict[str, list[Any]] = {
    "max_tokens": [1, 512, 100000],
    "max_completion_tokens": [64, 4096],
    "temperature": [0, 0.2, 1, 1.0, True, "hot"],
    "top_p": [0.1, 1],
    "top_k": [5],
    "presence_penalty": [0.5],
    "frequency_penalty": [0.1],
    "logit_bias": [{"50256": -100}],
    "logprobs": [True, False],
    "top_logprobs": [2],
    "stop": [["\n"], "END"],
    "seed": [7],
    "parallel_tool_calls": [True, False],
    "reasoning_effort": [
        "none",
        "minimal",
        "low",
        "medium",
        "high",
        "xhigh",
        "max",
        "turbo",
        {"effort": "low"},
    ],
    "tool_choice": ["required", "auto", {"type": "any"}, {"type": "tool", "name": "f"}],
    "thinking": [{"type": "enabled", "budget_tokens": 100}, {"type": "adaptive"}, {"type": "disabled"}],
    "anthropic_version": ["bedrock-2023-05-31"],
    "inferenceConfig": [{"maxTokens": 5, "temperature": 0.3, "topP": 0.8}],
    "x_unknown_vendor_field": [{"nested": [1, 2, {"deep": None}]}],
    "user": ["u-1"],
}
ROLES = ["system", "developer", "user", "assistant"]


def random_body(rng: random.Random, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model}
    messages = []
    for _ in range(rng.randint(0, 4)):
        message: dict[str, Any] = {"role": rng.choice(ROLES), "content": "text"}
        if rng.random() < 0.2:
            message["name"] = "ann"
        messages.append(message)
    body["messages"] = messages
    for key in rng.sample(sorted(OPTIONAL), rng.randint(0, 10)):
        body[key] = copy.deepcopy(rng.choice(OPTIONAL[key]))
    return body


def head(path: str) -> str:
    """The top-level key a change path starts with: `messages[0].role` -> `messages`."""
    return re.split(r"[.\[ ]", path, maxsplit=1)[0]


@pytest.mark.parametrize("dialect", list(Dialect))
def test_properties_over_generated_bodies(dialect: Dialect) -> None:
    rng = random.Random(f"engine-{dialect.value}")
    changed = 0
    for _ in range(300):  # bounded: 300 bodies per dialect
        model = rng.choice(MODELS)
        body = random_body(rng, model)
        snapshot = copy.deepcopy(body)
        profile = RESOLVER.by_name(model)
        result = rewrite(dialect, profile, body, Policy())
        assert body == snapshot, "the input must never be mutated"
        touched = {head(c.path) for c in result.changes} | {
            head(c.path.split(" -> ")[-1]) for c in result.changes
        }
        for key, value in snapshot.items():
            if result.body.get(key) != value:
                assert key in touched, f"{key} changed for {model} without a change record"
        order = [k for k in result.body if k in snapshot]
        assert order == [k for k in snapshot if k in result.body], "key order must survive"
        again = rewrite(dialect, profile, result.body, Policy())
        assert again.changes == (), f"not idempotent for {model}: {body} -> {again.changes}"
        if not result.changes:
            assert result.body is body
        changed += bool(result.changes)
    assert changed >= 10, "the generated bodies must exercise the rules"
