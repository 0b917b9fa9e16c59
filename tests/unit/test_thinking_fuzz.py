"""Reasoning fields of every shape and type, valid or not, through the real engine: never an
exception, never a mutated input, and (translate, strip) a second pass changes nothing."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from sidecar.rewrite.engine import Policy, rewrite
from sidecar.rewrite.thinking import ThinkingPolicy
from tests.unit.test_thinking_matrix import RESOLVER, TARGETS

ODD: list[Any] = [
    None,
    True,
    0,
    -1,
    1.5,
    10**20,
    "",
    "high",
    "xhigh",
    "bogus",
    [],
    {},
    ["low"],
    {"effort": 3},
]


def _value(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.5:
        return rng.choice(ODD)
    return {
        rng.choice(["type", "budget_tokens", "effort", "max_tokens", "enabled", "thinking_budget", "thinkingLevel"]):
        rng.choice([*ODD, "enabled", "adaptive", "disabled"])
        for _ in range(rng.randint(1, 3))
    }  # fmt: skip


def _body(rng: random.Random, model: str) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    for field in rng.sample(
        ["reasoning_effort", "thinking", "output_config", "reasoning", "thinking_config", "generationConfig",
         "chat_template_kwargs", "max_tokens", "temperature", "tool_choice"], k=rng.randint(1, 5)
    ):  # fmt: skip
        body[field] = _value(rng)
    if rng.random() < 0.3:
        body["messages"].append(
            {
                "role": "assistant",
                "content": rng.choice([*ODD, [{"type": "thinking"}, "x"]]),
                "reasoning_content": _value(rng),
            }
        )
    return body


@pytest.mark.parametrize("mode", ["translate", "inject", "strip"])
def test_any_reasoning_shape_is_handled(mode):
    rng = random.Random(f"thinking-{mode}")
    policy = Policy(
        thinking=ThinkingPolicy(mode, effort="medium") if mode == "inject" else ThinkingPolicy(mode)
    )
    for _ in range(1500):
        model = rng.choice(list(TARGETS))
        dialect, path, _, _ = TARGETS[model]
        body = _body(rng, model)
        original = copy.deepcopy(body)
        profile = RESOLVER.resolve(path, model)
        result = rewrite(dialect, profile, body, policy)
        assert body == original, "the caller's body is never mutated"
        if mode == "inject":
            # Not idempotent by nature: an explicit "off" the target cannot express (gpt-5 cannot
            # stop reasoning) leaves no field behind, and a second pass would then inject.
            continue
        again = rewrite(dialect, profile, result.body, policy)
        assert again.changes == (), f"not idempotent for {model}: {body} -> {result.body} -> {again.changes}"
