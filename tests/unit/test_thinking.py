"""Reasoning translation (issue 4): every client intent x every target style, checked against the
provider rules in ../shared/reference/provider-rules.md (sections cited per check)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sidecar.rewrite.thinking import (
    Style,
    ThinkingPolicy,
    ThinkingTarget,
    apply_thinking,
    default_tables,
    read_intent,
)
from tests.unit.test_thinking_matrix import present_reasoning_fields as _present

TABLES = default_tables()

TARGETS: dict[str, ThinkingTarget] = {
    "o4-mini": ThinkingTarget(Style.OPENAI_EFFORT, efforts=("low", "medium", "high")),  # §1.1
    "gpt-5-mini": ThinkingTarget(Style.OPENAI_EFFORT, efforts=("minimal", "low", "medium", "high")),  # §1.2
    "gpt-5.1": ThinkingTarget(Style.OPENAI_EFFORT, efforts=("none", "low", "medium", "high")),  # §1.2
    "claude-3-7-sonnet": ThinkingTarget(Style.ANTHROPIC_BUDGET),  # §1.4
    "claude-sonnet-4-6": ThinkingTarget(Style.ANTHROPIC_ADAPTIVE, efforts=("low", "medium", "high")),  # §1.4
    "claude-opus-4-7": ThinkingTarget(
        Style.ANTHROPIC_ADAPTIVE_ONLY, efforts=("low", "medium", "high", "xhigh", "max")
    ),  # §1.4 [NEWER]
    "gemini-2.5-flash": ThinkingTarget(Style.GEMINI_BUDGET, budget_range=(0, 24576)),  # §1.6
    "gemini-2.5-pro": ThinkingTarget(Style.GEMINI_BUDGET, budget_range=(128, 32768), can_disable=False),
    "gemini-3-pro": ThinkingTarget(Style.GEMINI_LEVEL, efforts=("low", "high")),  # §1.6
    "qwen3 (vLLM)": ThinkingTarget(Style.VLLM_ENABLE_THINKING, reasoning_history="strip"),  # §1.8
    "deepseek-v3.1 (vLLM)": ThinkingTarget(Style.VLLM_THINKING),  # §1.8
    "openrouter": ThinkingTarget(Style.OPENROUTER),  # §1.9
    "deepseek-v4": ThinkingTarget(Style.DEEPSEEK, efforts=("high", "max"), reasoning_history="keep"),  # §1.7
    "gpt-4o": ThinkingTarget(Style.NONE),
}

INTENTS: dict[str, dict[str, Any]] = {
    "openai effort high": {"reasoning_effort": "high"},
    "openai effort dict": {"reasoning_effort": {"effort": "low"}},
    "openai effort none": {"reasoning_effort": "none"},
    "openai effort xhigh": {"reasoning_effort": "xhigh"},
    "anthropic budget 1024": {"thinking": {"type": "enabled", "budget_tokens": 1024}},
    "anthropic budget too small": {"thinking": {"type": "enabled", "budget_tokens": 500}},
    "anthropic budget above max_tokens": {
        "thinking": {"type": "enabled", "budget_tokens": 8000},
        "max_tokens": 2000,
    },
    "anthropic adaptive + effort": {"thinking": {"type": "adaptive"}, "output_config": {"effort": "medium"}},
    "anthropic disabled": {"thinking": {"type": "disabled"}},
    "openrouter effort": {"reasoning": {"effort": "high"}},
    "openrouter budget": {"reasoning": {"max_tokens": 3000}},
    "gemini budget": {"generationConfig": {"thinkingConfig": {"thinkingBudget": 8192}}},
    "vllm enable_thinking": {"chat_template_kwargs": {"enable_thinking": True}},
}

OFF_INTENTS = {"openai effort none", "anthropic disabled"}


def _body(intent: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": "hi"}], **copy.deepcopy(intent)}


def check_provider_rules(name: str, target: ThinkingTarget, body: dict[str, Any], off: bool) -> None:
    """The target-side body obeys the provider's rules for reasoning fields."""
    present = _present(body)
    style = target.style
    if style is Style.NONE:
        assert present == set()
    elif style is Style.OPENAI_EFFORT:
        # §1.12: unknown kwargs like `thinking` break SDK hops. Fitting the value into the model's
        # accepted set is the `reasoning-effort-fit` rule's job (see test_thinking_matrix.py).
        assert present <= {"reasoning_effort"}
    elif style in (Style.ANTHROPIC_BUDGET, Style.ANTHROPIC_ADAPTIVE, Style.ANTHROPIC_ADAPTIVE_ONLY):
        assert present <= {"thinking", "output_config.effort"}
        thinking = body.get("thinking")
        if style is Style.ANTHROPIC_BUDGET:
            assert "output_config" not in body  # effort is 4.5+/4.6+ only (§2.2)
            if thinking and thinking["type"] == "enabled":
                assert thinking["budget_tokens"] >= 1024  # §1.4 budget floor
                assert body["max_tokens"] > thinking["budget_tokens"]  # §1.4 budget < max_tokens
        if style is Style.ANTHROPIC_ADAPTIVE_ONLY and thinking:
            assert thinking["type"] != "enabled"  # §1.4: "thinking.type.enabled" is not supported
        if thinking and thinking["type"] != "disabled":
            assert body.get("temperature", 1) == 1  # §1.4 temperature only 1
            assert "top_k" not in body
        if "output_config" in body:
            assert body["output_config"]["effort"] in target.efforts
    elif style in (Style.GEMINI_BUDGET, Style.GEMINI_LEVEL):
        assert present <= {"generationConfig.thinkingConfig"}
        config = body["generationConfig"]["thinkingConfig"]
        assert not ("thinkingBudget" in config and "thinkingLevel" in config)  # §1.6 both -> 400
        if style is Style.GEMINI_BUDGET:
            low, high = target.budget_range or (0, 24576)
            assert config["thinkingBudget"] == 0 or low <= config["thinkingBudget"] <= high  # §1.6 ranges
            if not target.can_disable:
                assert config["thinkingBudget"] >= low  # 2.5 Pro cannot turn thinking off
        else:
            assert config["thinkingLevel"] in target.efforts
    elif style in (Style.VLLM_ENABLE_THINKING, Style.VLLM_THINKING):
        key = "enable_thinking" if style is Style.VLLM_ENABLE_THINKING else "thinking"
        assert present == {f"chat_template_kwargs.{key}"}
        assert body["chat_template_kwargs"][key] is (not off)
    elif style is Style.OPENROUTER:
        assert present == {"reasoning"}
        assert not ("effort" in body["reasoning"] and "max_tokens" in body["reasoning"])  # §1.9 one or other
    elif style is Style.DEEPSEEK:
        assert present <= {"thinking", "reasoning_effort"}
        assert set(body["thinking"]) == {"type"}  # budget_tokens dropped (§1.7)
        if "reasoning_effort" in body:
            assert body["reasoning_effort"] in target.efforts


@pytest.mark.parametrize("intent_name", INTENTS)
@pytest.mark.parametrize("target_name", TARGETS)
def test_every_intent_reaches_every_target_in_its_own_dialect(intent_name, target_name):
    target = TARGETS[target_name]
    body, changes = apply_thinking(_body(INTENTS[intent_name]), target, ThinkingPolicy(), TABLES)
    check_provider_rules(target_name, target, body, off=intent_name in OFF_INTENTS)
    assert body["messages"] == [{"role": "user", "content": "hi"}]  # unrelated fields untouched
    for change in changes:
        assert change.rule.startswith("thinking.")


@pytest.mark.parametrize(
    ("intent", "target", "expected"),
    [
        # §2.2: effort -> Anthropic budget low/medium/high = 1024/2048/4096; max_tokens raised (§2.1).
        (
            {"reasoning_effort": "high"},
            "claude-3-7-sonnet",
            {"thinking": {"type": "enabled", "budget_tokens": 4096}, "max_tokens": 8192},
        ),
        # §2.2: 4.6 gets adaptive + output_config.effort.
        (
            {"reasoning_effort": "high"},
            "claude-sonnet-4-6",
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}},
        ),
        # §2.4: budget 1024 -> low on OpenAI reasoning models.
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "o4-mini", {"reasoning_effort": "low"}),
        # §1.2: gpt-5.1 can turn reasoning off with "none".
        ({"thinking": {"type": "disabled"}}, "gpt-5.1", {"reasoning_effort": "none"}),
        # §1.8: Qwen3 on vLLM.
        ({"reasoning_effort": "high"}, "qwen3 (vLLM)", {"chat_template_kwargs": {"enable_thinking": True}}),
        # §2.3: Gemini 2.5 budget; Gemini 3 medium -> high ("medium is not out yet").
        (
            {"reasoning_effort": "low"},
            "gemini-2.5-flash",
            {"generationConfig": {"thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}}},
        ),
        (
            {"reasoning_effort": "medium"},
            "gemini-3-pro",
            {"generationConfig": {"thinkingConfig": {"thinkingLevel": "high", "includeThoughts": True}}},
        ),
        # §1.9 OpenRouter reasoning object.
        (
            {"thinking": {"type": "enabled", "budget_tokens": 3000}},
            "openrouter",
            {"reasoning": {"max_tokens": 3000}},
        ),
        # §1.7 DeepSeek: thinking reduced to {type}, effort high/max.
        (
            {"reasoning_effort": "low"},
            "deepseek-v4",
            {"thinking": {"type": "enabled"}, "reasoning_effort": "high"},
        ),
    ],
)
def test_translation_values_follow_the_reference_tables(intent, target, expected):
    body, _ = apply_thinking(_body(intent), TARGETS[target], ThinkingPolicy(), TABLES)
    for key, value in expected.items():
        assert body[key] == value, key


def test_tiny_client_max_tokens_is_raised_to_fit_the_budget_floor():
    body = _body({"thinking": {"type": "enabled", "budget_tokens": 8000}, "max_tokens": 500})
    out, _ = apply_thinking(body, TARGETS["claude-3-7-sonnet"], ThinkingPolicy(), TABLES)
    assert out["thinking"]["budget_tokens"] < out["max_tokens"]
    assert out["thinking"]["budget_tokens"] >= 1024


def test_budget_clamped_below_a_client_max_tokens():
    body, _ = apply_thinking(
        _body({"thinking": {"type": "enabled", "budget_tokens": 8000}, "max_tokens": 2000}),
        TARGETS["claude-3-7-sonnet"],
        ThinkingPolicy(),
        TABLES,
    )
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1999}
    assert body["max_tokens"] == 2000


def test_strip_policy_removes_every_reasoning_field():
    body = _body({"thinking": {"type": "enabled", "budget_tokens": 2048}, "reasoning_effort": "high",
                  "chat_template_kwargs": {"enable_thinking": True, "other": 1}})  # fmt: skip
    out, changes = apply_thinking(body, TARGETS["claude-3-7-sonnet"], ThinkingPolicy("strip"), TABLES)
    assert _present(out) == set()
    assert out["chat_template_kwargs"] == {"other": 1}  # unrelated keys survive
    assert all(c.rule == "thinking.strip" for c in changes)


def test_passthrough_policy_touches_nothing():
    body = _body({"reasoning_effort": "high"})
    original = copy.deepcopy(body)
    out, changes = apply_thinking(body, TARGETS["claude-3-7-sonnet"], ThinkingPolicy("passthrough"), TABLES)
    assert out == original and changes == []


def test_inject_turns_thinking_on_when_the_client_did_not_ask():
    out, changes = apply_thinking(_body({"max_tokens": 1024}), TARGETS["claude-3-7-sonnet"],
                                  ThinkingPolicy("inject", effort="medium"), TABLES)  # fmt: skip
    # max_tokens 1024 leaves no room for the 1024 floor (budget < max_tokens, §1.4): raised.
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert out["max_tokens"] == 1024 + 4096
    assert any(c.rule == "thinking.inject" for c in changes)


def test_inject_never_overrides_what_the_client_asked():
    out, changes = apply_thinking(_body({"thinking": {"type": "disabled"}}), TARGETS["claude-3-7-sonnet"],
                                  ThinkingPolicy("inject", effort="high"), TABLES)  # fmt: skip
    assert out["thinking"] == {"type": "disabled"}
    assert not any(c.rule == "thinking.inject" for c in changes)


def test_inject_skipped_when_last_tool_turn_has_no_thinking_block():
    # §1.4: "a final 'assistant' message must start with a thinking block (preceeding the lastmost
    # set of 'tool_use' and 'tool_result' blocks)". A client that dropped it cannot get thinking.
    body = _body({})
    body["messages"] = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "w", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sun"}]},
    ]
    out, changes = apply_thinking(
        body, TARGETS["claude-3-7-sonnet"], ThinkingPolicy("inject", effort="low"), TABLES
    )
    assert "thinking" not in out
    assert [c.rule for c in changes] == ["thinking.inject.skipped_tool_history"]


def test_thinking_blocks_removed_from_history_when_thinking_is_off():
    # §1.4 reverse rule: "When thinking is disabled, an assistant message cannot contain thinking".
    body = _body({})
    body["messages"] = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "x", "signature": "s"},
                {"type": "text", "text": "a"},
            ],
        },
        {"role": "user", "content": "q2"},
    ]
    out, changes = apply_thinking(body, TARGETS["claude-3-7-sonnet"], ThinkingPolicy(), TABLES)
    assert out["messages"][1]["content"] == [{"type": "text", "text": "a"}]
    assert changes[0].rule == "thinking.history"


def test_reasoning_content_history_dropped_for_legacy_targets_kept_for_thinking_mode_deepseek():
    # §1.7: legacy deepseek-reasoner rejects reasoning_content in input; V3.1+/V4 thinking mode needs
    # it echoed on tool turns. §1.8: vLLM targets strip it by default.
    def history():
        body = _body({"reasoning_effort": "high"})
        body["messages"] = [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "reasoning_content": "because"},
            {"role": "user", "content": "q2"},
        ]
        return body

    legacy = ThinkingTarget(Style.NONE, reasoning_history="strip")  # deepseek-reasoner
    out, _ = apply_thinking(history(), legacy, ThinkingPolicy(), TABLES)
    assert "reasoning_content" not in out["messages"][1]
    out, _ = apply_thinking(history(), TARGETS["deepseek-v4"], ThinkingPolicy(), TABLES)
    assert out["messages"][1]["reasoning_content"] == "because"
    out, _ = apply_thinking(history(), TARGETS["qwen3 (vLLM)"], ThinkingPolicy(), TABLES)
    assert "reasoning_content" not in out["messages"][1]


def test_key_order_and_unknown_fields_preserved():
    body = {"model": "m", "zeta": 1, "reasoning_effort": "high", "alpha": {"x": 1}, "messages": []}
    out, _ = apply_thinking(body, TARGETS["o4-mini"], ThinkingPolicy(), TABLES)
    assert list(out) == ["model", "zeta", "reasoning_effort", "alpha", "messages"]


@pytest.mark.parametrize(
    ("body", "mode", "effort", "budget"),
    [
        ({"reasoning_effort": "high"}, "effort", "high", None),
        ({"reasoning_effort": {"effort": "low", "summary": "auto"}}, "effort", "low", None),
        ({"thinking": {"type": "enabled", "budget_tokens": 5000}}, "budget", "high", 5000),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "adaptive", "max", None),
        ({"reasoning": {"enabled": False}}, "off", None, None),
        ({"thinking_config": {"thinking_budget": 0}}, "off", None, None),
        ({"chat_template_kwargs": {"thinking": True}}, "adaptive", None, None),
        ({"thinking": {"type": "enabled"}}, "adaptive", None, None),  # DeepSeek style
        ({"temperature": 0.3}, None, None, None),
    ],
)
def test_read_intent_from_every_client_dialect(body, mode, effort, budget):
    intent = read_intent(body, TABLES)
    if mode is None:
        assert intent is None
        return
    assert (intent.mode, intent.effort, intent.budget) == (mode, effort, budget)


def test_style_literal_and_enum_agree():
    from typing import get_args

    from sidecar.config import ReasoningStyle

    assert set(get_args(ReasoningStyle)) == {s.value for s in Style}


def test_every_recorded_decision_is_explained():
    """Every rule id the thinking step can record has a reason and a source for `explain`."""
    import re
    from pathlib import Path

    from sidecar.rewrite.thinking import DECISIONS

    source = (Path(__file__).parents[2] / "sidecar" / "rewrite" / "thinking.py").read_text()
    recorded = set(re.findall(r'"(thinking\.[a-z_.]+)"', source)) - {"thinking.yaml"}
    assert recorded <= set(DECISIONS)
    forward = (Path(__file__).parents[2] / "sidecar" / "forward.py").read_text()
    assert set(re.findall(r'"(thinking\.[a-z_.]+)"', forward)) <= set(DECISIONS)
