"""The engine's contract: pure, deterministic, order- and unknown-field-preserving, policy-aware."""

from __future__ import annotations

import copy

from sidecar.config import Dialect
from sidecar.rewrite.engine import Policy, rewrite
from sidecar.rewrite.knowledge import load_knowledge

RESOLVER = load_knowledge().resolver({})


def legacy_body(model: str) -> dict:
    return {
        "x_vendor_first": {"keep": [1, 2, 3]},
        "model": model,
        "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
        "max_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "parallel_tool_calls": False,
        "metadata": {"trace": "abc"},
        "zz_unknown_last": None,
    }


def test_input_body_is_never_mutated() -> None:
    body = legacy_body("o1-mini")
    snapshot = copy.deepcopy(body)
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("o1-mini"), body, Policy())
    assert result.changes
    assert body == snapshot
    assert result.body["messages"][0]["role"] == "user"
    assert body["messages"][0]["role"] == "system"


def test_untouched_subtrees_are_shared_not_copied() -> None:
    body = legacy_body("o4-mini")
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("o4-mini"), body, Policy())
    assert result.body is not body
    assert result.body["messages"] is body["messages"]
    assert result.body["x_vendor_first"] is body["x_vendor_first"]


def test_key_order_and_unknown_fields_survive() -> None:
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("o4-mini"), legacy_body("o4-mini"), Policy())
    assert list(result.body) == [
        "x_vendor_first",
        "model",
        "messages",
        "max_completion_tokens",
        "metadata",
        "zz_unknown_last",
    ]


def test_changes_name_rule_action_path_before_after() -> None:
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("o4-mini"), legacy_body("o4-mini"), Policy())
    assert [(c.rule, c.action, c.path, c.before, c.after) for c in result.changes] == [
        (
            "openai-max-tokens-to-max-completion-tokens",
            "rename",
            "max_tokens -> max_completion_tokens",
            256,
            256,
        ),
        ("openai-temperature-default-only", "drop", "temperature", 0.2, None),
        ("openai-sampling-params-unsupported", "drop", "top_p", 0.9, None),
        ("openai-parallel-tool-calls-unsupported", "drop", "parallel_tool_calls", False, None),
    ]


def test_deterministic() -> None:
    profile = RESOLVER.by_name("o1-mini")
    first = rewrite(Dialect.OPENAI, profile, legacy_body("o1-mini"), Policy())
    second = rewrite(Dialect.OPENAI, profile, legacy_body("o1-mini"), Policy())
    assert first == second


def test_no_change_returns_the_same_object() -> None:
    body = legacy_body("gpt-4o")
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("gpt-4o"), body, Policy())
    assert result.body is body
    assert result.changes == ()
    assert not result.changed


def test_policy_disables_rules_by_id() -> None:
    policy = Policy(disabled=frozenset({"openai-temperature-default-only"}))
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("o4-mini"), legacy_body("o4-mini"), policy)
    assert result.body["temperature"] == 0.2
    assert "openai-temperature-default-only" not in {c.rule for c in result.changes}


def test_unknown_model_is_left_alone() -> None:
    body = legacy_body("demo1")
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("demo1"), body, Policy())
    assert result.body is body and result.changes == ()


def test_dialect_gates_rules() -> None:
    # An Anthropic-shaped body is not an OpenAI body: the OpenAI rules do not apply to it.
    body = legacy_body("o4-mini")
    result = rewrite(Dialect.ANTHROPIC, RESOLVER.by_name("o4-mini"), body, Policy())
    assert result.changes == ()


def test_rules_see_the_body_as_earlier_rules_left_it() -> None:
    # xAI: max_completion_tokens -> max_tokens happens before anything else reads max_tokens; a
    # body carrying both keeps the explicit max_tokens and drops the other (rename keep_target).
    body = {"model": "grok-3", "max_tokens": 10, "max_completion_tokens": 99}
    result = rewrite(Dialect.OPENAI, RESOLVER.by_name("grok-3"), body, Policy())
    assert result.body == {"model": "grok-3", "max_tokens": 10}
    assert [(c.action, c.path) for c in result.changes] == [("drop", "max_completion_tokens")]
