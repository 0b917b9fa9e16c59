"""The rule schema and each action's semantics, on small synthetic rules."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from sidecar.rewrite.rules import Capabilities, RewriteContext, Rule, compile_rule


def rule(actions: list[dict[str, Any]], **when: Any) -> Rule:
    return Rule.model_validate(
        {"id": "t-rule", "reason": "test", "source": "test", "when": when, "actions": actions}
    )


def apply(
    actions: list[dict[str, Any]], body: dict[str, Any], caps: Capabilities | None = None, **when: Any
) -> tuple[dict[str, Any], list[tuple[str, str, Any, Any]]]:
    compiled = compile_rule(rule(actions, **when))
    if not compiled.applies(body):
        return body, []
    ctx = RewriteContext(body, caps)
    compiled.apply(ctx)
    return ctx.root, [(c.action, c.path, c.before, c.after) for c in ctx.changes]


# --- rename / move --------------------------------------------------------------------------------


def test_rename_keeps_position() -> None:
    out, changes = apply([{"op": "rename", "from": "a", "to": "b"}], {"x": 1, "a": 2, "y": 3})
    assert list(out.items()) == [("x", 1), ("b", 2), ("y", 3)]
    assert changes == [("rename", "a -> b", 2, 2)]


@pytest.mark.parametrize(
    ("conflict", "expected", "actions"),
    [
        ("keep_target", {"x": 1, "b": 9}, [("drop", "a", 2, None)]),
        ("overwrite", {"b": 2, "x": 1}, [("rename", "a -> b", 2, 2)]),
        ("skip", {"a": 2, "x": 1, "b": 9}, []),
    ],
)
def test_rename_conflict(conflict: str, expected: dict, actions: list) -> None:
    body = {"a": 2, "x": 1, "b": 9}
    out, changes = apply([{"op": "rename", "from": "a", "to": "b", "on_conflict": conflict}], body)
    assert out == expected and list(out) == list(expected)
    assert changes == actions


def test_rename_nested() -> None:
    body = {"generationConfig": {"max_tokens": 5, "k": 1}}
    out, _ = apply([{"op": "rename", "from": "generationConfig.max_tokens", "to": "maxOutputTokens"}], body)
    assert out == {"generationConfig": {"maxOutputTokens": 5, "k": 1}}
    assert body == {"generationConfig": {"max_tokens": 5, "k": 1}}


def test_move_into_new_nested_path() -> None:
    body = {"model": "m", "thinking": {"type": "enabled"}}
    out, changes = apply([{"op": "move", "from": "thinking", "to": "extra_body.thinking"}], body)
    assert out == {"model": "m", "extra_body": {"thinking": {"type": "enabled"}}}
    assert changes == [("move", "thinking -> extra_body.thinking", {"type": "enabled"}, {"type": "enabled"})]


def test_move_into_existing_object_keeps_its_fields() -> None:
    body = {"enable_thinking": False, "chat_template_kwargs": {"foo": 1}}
    out, _ = apply(
        [{"op": "move", "from": "enable_thinking", "to": "chat_template_kwargs.enable_thinking"}], body
    )
    assert out == {"chat_template_kwargs": {"foo": 1, "enable_thinking": False}}
    assert body["chat_template_kwargs"] == {"foo": 1}


def test_move_conflict_keep_target() -> None:
    body = {"a": 1, "n": {"a": 2}}
    out, changes = apply([{"op": "move", "from": "a", "to": "n.a"}], body)
    assert out == {"n": {"a": 2}}
    assert changes == [("drop", "a", 1, None)]


# --- drop / set / clamp / map / role / fit ---------------------------------------------------------


def test_drop_unless_in_uses_json_equality() -> None:
    action = [{"op": "drop", "path": "temperature", "unless_in": [1]}]
    assert apply(action, {"temperature": 1})[1] == []
    assert apply(action, {"temperature": 1.0})[1] == []
    # true == 1 in Python, not in JSON: a boolean is not the default temperature.
    assert apply(action, {"temperature": True})[1] == [("drop", "temperature", True, None)]
    assert apply(action, {"temperature": 0.2})[0] == {}


def test_drop_wildcard_over_list_items() -> None:
    body = {"messages": [{"role": "user", "name": "a"}, {"role": "user"}, {"role": "x", "name": "b"}]}
    out, changes = apply([{"op": "drop", "path": "messages.*.name"}], body)
    assert out == {"messages": [{"role": "user"}, {"role": "user"}, {"role": "x"}]}
    assert [c[1] for c in changes] == ["messages[2].name", "messages[0].name"]
    assert body["messages"][0] == {"role": "user", "name": "a"}


def test_set_and_set_default() -> None:
    assert apply([{"op": "set_default", "path": "max_tokens", "value": 4096}], {"max_tokens": 5})[0] == {
        "max_tokens": 5
    }
    out, changes = apply([{"op": "set_default", "path": "a.b", "value": 1}], {"x": 0})
    assert out == {"x": 0, "a": {"b": 1}}
    assert changes == [("set_default", "a.b", None, 1)]
    out, changes = apply(
        [{"op": "set", "path": "tool_choice.type", "value": "auto"}], {"tool_choice": {"type": "any"}}
    )
    assert out == {"tool_choice": {"type": "auto"}}
    assert changes == [("set", "tool_choice.type", "any", "auto")]
    assert apply([{"op": "set", "path": "a", "value": 1}], {"a": 1})[1] == []


def test_set_over_wildcard_parents() -> None:
    body = {"tools": [{"name": "a"}, {"name": "b", "strict": True}]}
    out, changes = apply([{"op": "set", "path": "tools.*.strict", "value": False}], body)
    assert out == {"tools": [{"name": "a", "strict": False}, {"name": "b", "strict": False}]}
    assert len(changes) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [(512, 1024), (5000, 5000), (99999, 32000), (512.5, 1024.0), ("512", "512"), (True, True)],
)
def test_clamp(value: Any, expected: Any) -> None:
    out, _ = apply([{"op": "clamp", "path": "t.b", "min": 1024, "max": 32000}], {"t": {"b": value}})
    assert out["t"]["b"] == expected
    assert type(out["t"]["b"]) is type(expected)


def test_map_and_role() -> None:
    out, changes = apply(
        [{"op": "map", "path": "tool_choice", "values": {"required": "any"}}], {"tool_choice": "required"}
    )
    assert out == {"tool_choice": "any"} and changes == [("map", "tool_choice", "required", "any")]
    assert (
        apply([{"op": "map", "path": "tool_choice", "values": {"required": "any"}}], {"tool_choice": "auto"})[
            1
        ]
        == []
    )
    body = {"messages": [{"role": "system", "content": "s"}, {"role": "developer"}, {"role": "user"}]}
    out, changes = apply([{"op": "role", "values": {"system": "developer"}}], body)
    assert [m["role"] for m in out["messages"]] == ["developer", "developer", "user"]
    assert changes == [("role", "messages[0].role", "system", "developer")]


FIT = [{"op": "fit", "path": "reasoning_effort", "capability": "reasoning_efforts",
        "order": ["none", "minimal", "low", "medium", "high", "xhigh", "max"]}]  # fmt: skip


@pytest.mark.parametrize(
    ("accepted", "value", "expected"),
    [
        (("low", "medium", "high"), "minimal", "low"),
        (("low", "medium", "high"), "xhigh", "high"),
        (("low", "high"), "medium", "high"),  # a tie goes up
        (("none", "low", "medium", "high"), "minimal", "low"),
        (("minimal", "low", "medium", "high"), "none", "minimal"),
        (("high",), "low", "high"),
        (("low", "medium", "high"), "medium", "medium"),
        (("low", "medium", "high"), "turbo", "turbo"),  # not on the ladder: left alone
    ],
)
def test_fit(accepted: tuple[str, ...], value: str, expected: str) -> None:
    out, _ = apply(FIT, {"reasoning_effort": value}, Capabilities(reasoning_efforts=accepted))
    assert out["reasoning_effort"] == expected


def test_fit_drops_when_nothing_is_accepted_and_ignores_no_opinion() -> None:
    out, changes = apply(FIT, {"reasoning_effort": "low"}, Capabilities(reasoning_efforts=()))
    assert out == {} and changes == [("drop", "reasoning_effort", "low", None)]
    assert apply(FIT, {"reasoning_effort": "low"}, Capabilities())[1] == []
    assert apply(FIT, {"reasoning_effort": {"effort": "low"}}, Capabilities(reasoning_efforts=()))[1] == []


# --- conditions ------------------------------------------------------------------------------------

DROP_X = [{"op": "drop", "path": "x"}]


def test_conditions() -> None:
    assert apply(DROP_X, {"x": 1, "y": 1}, present=["y"])[1]
    assert not apply(DROP_X, {"x": 1}, present=["y"])[1]
    assert apply(DROP_X, {"x": 1}, absent=["y"])[1]
    assert not apply(DROP_X, {"x": 1, "y": None}, absent=["y"])[1]
    assert apply(DROP_X, {"x": 1, "t": {"type": "enabled"}}, value_in={"t.type": ["enabled"]})[1]
    assert not apply(DROP_X, {"x": 1, "t": {"type": "disabled"}}, value_in={"t.type": ["enabled"]})[1]
    assert not apply(DROP_X, {"x": 1}, value_in={"t.type": ["enabled"]})[1]
    assert apply(DROP_X, {"x": 1, "e": "high"}, value_not_in={"e": ["none"]})[1]
    assert not apply(DROP_X, {"x": 1}, value_not_in={"e": ["none"]})[1]  # absent: not "a value not in"
    assert apply(DROP_X, {"x": 1, "m": [{"r": "a"}, {"r": "b"}]}, value_in={"m.*.r": ["b"]})[1]
    assert apply(DROP_X, {"x": 1, "m": [{"n": 1}]}, present=["m.*.n"])[1]


# --- schema ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"actions": [{"op": "drop", "path": "a..b"}]}, "invalid path"),
        ({"actions": [{"op": "drop", "path": "a b"}]}, "invalid path"),
        ({"actions": [{"op": "explode", "path": "a"}]}, "does not match any of the expected tags"),
        ({"actions": [{"op": "clamp", "path": "a"}]}, "clamp needs min, max or both"),
        ({"actions": [{"op": "clamp", "path": "a", "min": 5, "max": 1}]}, "greater than max"),
        ({"actions": [{"op": "move", "from": "a.*", "to": "b"}]}, "single fields"),
        ({"actions": [{"op": "rename", "from": "a.*", "to": "b"}]}, "not '*'"),
        ({"actions": [{"op": "drop", "path": "a", "typo": 1}]}, "Extra inputs are not permitted"),
        ({"actions": []}, "at least 1 item"),
        ({"actions": DROP_X, "when": {"capabilities": {"warp_drive": True}}}, "unknown capabilities"),
        ({"actions": DROP_X, "when": {"dialects": ["klingon"]}}, "Input should be"),
        ({"actions": DROP_X, "reason": "two\nlines"}, "String should match pattern"),
        ({"actions": DROP_X, "id": "Has Spaces"}, "String should match pattern"),
    ],
)
def test_schema_rejects(data: dict[str, Any], needle: str) -> None:
    base = {"id": "r", "reason": "x", "source": "s", **data}
    with pytest.raises(ValidationError) as info:
        Rule.model_validate(base)
    assert needle in str(info.value)
