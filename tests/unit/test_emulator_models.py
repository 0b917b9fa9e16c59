"""The emulator's own model tables: names resolve as the providers resolve them."""

from __future__ import annotations

import pytest

from sidecar.emulator.models import claude_model, openai_model


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("o4-mini", "o4-mini"),
        ("o4-mini-2025-04-16", "o4-mini"),  # dated snapshot
        ("gpt-5-mini-2025-08-07", "gpt-5-mini"),
        ("gpt-5-chat-latest", "gpt-5-chat-latest"),  # a name of its own, not gpt-5 + suffix
        ("gpt-4o-2024-08-06", "gpt-4o"),
    ],
)
def test_openai_names_and_snapshots(name, canonical):
    model = openai_model(name)
    assert model is not None and model.name == canonical


@pytest.mark.parametrize("name", ["demo1", "foo-o1-bar", "o4-mini-high", "gpt-4o/azure", ""])
def test_openai_unknown_names_are_unknown(name):
    assert openai_model(name) is None


@pytest.mark.parametrize(
    ("name", "bedrock", "canonical"),
    [
        ("claude-3-7-sonnet-20250219", False, "claude-3-7-sonnet"),
        ("claude-3-7-sonnet-latest", False, "claude-3-7-sonnet"),
        ("claude-opus-4-7", False, "claude-opus-4-7"),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", True, "claude-3-7-sonnet"),
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", True, "claude-sonnet-4"),
        ("bedrock/global.anthropic.claude-opus-4-6-v1", True, "claude-opus-4-6"),
        ("anthropic/claude-sonnet-4-5", True, "claude-sonnet-4-5"),
    ],
)
def test_claude_names(name, bedrock, canonical):
    model = claude_model(name, bedrock_ids=bedrock)
    assert model is not None and model.name == canonical


def test_bedrock_ids_only_where_a_proxy_accepts_them():
    """The Messages API itself does not take Bedrock ids (it answers 404 not_found_error)."""
    assert claude_model("anthropic.claude-3-7-sonnet-20250219-v1:0") is None


def test_generations_carry_the_thinking_style():
    styles = {
        n: claude_model(n).thinking
        for n in ("claude-3-5-sonnet", "claude-3-7-sonnet", "claude-opus-4-6", "claude-opus-4-7")
    }  # type: ignore[union-attr]
    assert styles == {
        "claude-3-5-sonnet": "none",
        "claude-3-7-sonnet": "budget",
        "claude-opus-4-6": "budget_or_adaptive",
        "claude-opus-4-7": "adaptive_only",
    }
