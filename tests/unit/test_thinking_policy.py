"""Operator reasoning policies (issue 4): inject / strip / translate / passthrough per route,
family or model, the style override, and table overrides, through the real pipeline."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from sidecar.config import Dialect, SidecarConfig
from sidecar.rewrite.knowledge import KnowledgeError
from sidecar.rewrite.pipeline import RequestPipeline

JSON = "application/json"
MESSAGES = "/v1/messages"
CHAT = "/v1/chat/completions"
ROUTES = [
    {
        "prefix": "/anthropic",
        "upstream": "http://a",
        "dialect": "anthropic",
        "name": "anthropic",
        "strip_prefix": True,
    },
    {"prefix": "/openrouter", "upstream": "http://o", "dialect": "openai-compatible", "name": "openrouter"},
    {"prefix": "/legacy", "upstream": "http://l", "dialect": "openai-compatible", "name": "legacy"},
]


def pipeline(*policies: dict[str, Any], **rules: Any) -> RequestPipeline:
    config = {"routes": ROUTES, "rules": {"policies": list(policies), **rules}}
    return RequestPipeline(SidecarConfig.model_validate(config))


def send(
    pipe: RequestPipeline,
    body: dict[str, Any],
    route: str = "anthropic",
    dialect=Dialect.ANTHROPIC,
    path=MESSAGES,
):
    prepared = pipe.prepare(dialect, path, JSON, None, orjson.dumps(body), route=route)
    return orjson.loads(prepared.body), prepared


def test_inject_for_one_family_only():
    pipe = pipeline({"family": "claude-4-5", "thinking": {"mode": "inject", "effort": "medium"}})
    out, prepared = send(pipe, {"model": "claude-sonnet-4-5", "max_tokens": 8000, "messages": []})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert prepared.strip_injected_thinking  # the response will lose what we caused
    out, prepared = send(pipe, {"model": "claude-sonnet-4-20250514", "max_tokens": 8000, "messages": []})
    assert "thinking" not in out and not prepared.changes


def test_inject_for_one_model_by_any_spelling():
    pipe = pipeline({"model": "claude-sonnet-4-5", "thinking": {"mode": "inject", "budget": 3000}})
    out, _ = send(pipe, {"model": "claude-sonnet-4-5-20250929", "max_tokens": 8000, "messages": []})
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 3000}
    out, _ = send(pipe, {"model": "claude-opus-4-5", "max_tokens": 8000, "messages": []})
    assert "thinking" not in out


def test_strip_per_route_and_later_policy_overrides_earlier():
    pipe = pipeline(
        {"route": "legacy", "thinking": {"mode": "strip"}},
        {"route": "legacy", "family": "deepseek-chat", "thinking": {"mode": "passthrough"}},
    )
    body = {
        "model": "gpt-5-mini",
        "messages": [],
        "reasoning_effort": "high",
        "thinking": {"type": "enabled"},
    }
    out, prepared = send(pipe, body, route="legacy", dialect=Dialect.OPENAI_COMPATIBLE, path=CHAT)
    assert "reasoning_effort" not in out and "thinking" not in out
    assert {c.rule for c in prepared.changes} == {"thinking.strip"}
    deepseek = {"model": "deepseek-chat", "messages": [], "thinking": {"type": "enabled", "budget_tokens": 9}}
    out, prepared = send(pipe, deepseek, route="legacy", dialect=Dialect.OPENAI_COMPATIBLE, path=CHAT)
    assert out == deepseek and not prepared.changes


def test_style_override_writes_openrouter_reasoning_for_claude():
    # §1.9: OpenRouter takes a `reasoning` object whatever the model behind it.
    pipe = pipeline({"route": "openrouter", "thinking": {"style": "openrouter"}})
    body = {"model": "anthropic/claude-sonnet-4.5", "messages": [], "reasoning_effort": "high"}
    out, _ = send(pipe, body, route="openrouter", dialect=Dialect.OPENAI_COMPATIBLE, path=CHAT)
    assert out["reasoning"] == {"effort": "high"}
    assert "reasoning_effort" not in out and "thinking" not in out


def test_tables_can_be_overridden():
    pipe = pipeline(thinking_tables={"effort_to_budget": {"high": 6000}})
    out, _ = send(
        pipe,
        {"model": "claude-3-7-sonnet-latest", "max_tokens": 9000, "messages": [], "reasoning_effort": "high"},
    )
    assert out["thinking"]["budget_tokens"] == 6000


def test_bad_table_override_is_a_config_error():
    with pytest.raises(KnowledgeError, match=r"rules\.thinking_tables"):
        pipeline(thinking_tables={"anthropic": {"min_budget": "lots"}})


def test_inject_needs_an_amount():
    with pytest.raises(ValidationError, match="inject needs"):
        pipeline({"family": "claude-4-5", "thinking": {"mode": "inject"}})


def test_dry_run_never_strips_responses():
    pipe = pipeline(
        {"family": "claude-4-5", "thinking": {"mode": "inject", "effort": "low"}, "dry_run": True}
    )
    _, prepared = send(pipe, {"model": "claude-sonnet-4-5", "max_tokens": 8000, "messages": []})
    assert prepared.dry_run and not prepared.strip_injected_thinking
