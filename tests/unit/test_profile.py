"""Model resolution: normalisation, URL models, aliases, anchored family matching, the memo."""

from __future__ import annotations

import pytest

from sidecar.rewrite.knowledge import load_knowledge
from sidecar.rewrite.profile import model_from_path, normalise

KNOWLEDGE = load_knowledge()

# (model id as clients and providers spell it, expected family). Real ids across providers.
MATRIX = [
    # OpenAI o-series (§1.1)
    ("o1", "openai-o-series"),
    ("o1-2024-12-17", "openai-o-series"),
    ("o1-mini", "openai-o1-legacy"),
    ("o1-mini-2024-09-12", "openai-o1-legacy"),
    ("o1-preview", "openai-o1-legacy"),
    ("o1-pro", "openai-o-series"),
    ("o3", "openai-o-series"),
    ("o3-mini", "openai-o-series"),
    ("o3-mini-2025-01-31", "openai-o-series"),
    ("o3-pro", "openai-o-series"),
    ("o4-mini", "openai-o-series"),
    ("o4-mini-2025-04-16", "openai-o-series"),
    ("o5", "openai-o-series"),  # a future o-model lands in the o-series without a code change
    ("openai/o3", "openai-o-series"),
    ("azure/o_series/o4-mini", "openai-o-series"),
    ("litellm_proxy/o4-mini", "openai-o-series"),
    # gpt-5 family (§1.2)
    ("gpt-5", "openai-gpt-5"),
    ("gpt-5-2025-08-07", "openai-gpt-5"),
    ("gpt-5-mini", "openai-gpt-5"),
    ("gpt-5-nano", "openai-gpt-5"),
    ("gpt-5-codex", "openai-gpt-5"),
    ("azure/gpt-5-mini", "openai-gpt-5"),
    ("gpt-5-chat-latest", "openai-gpt-5-chat"),
    ("gpt-5-chat", "openai-gpt-5-chat"),
    ("gpt-5-pro", "openai-gpt-5-pro"),
    ("gpt-5.1", "openai-gpt-5-1"),
    ("gpt-5.1-2025-11-13", "openai-gpt-5-1"),
    ("gpt-5.2", "openai-gpt-5-2"),
    ("gpt-5.4", "openai-gpt-5-2"),
    ("gpt-5.2-chat-latest", "openai-gpt-5x-chat"),
    # classic OpenAI chat models (§5.1): no rewrites
    ("gpt-4o", "openai-chat"),
    ("gpt-4o-2024-08-06", "openai-chat"),
    ("gpt-4o-mini", "openai-chat"),
    ("gpt-4.1", "openai-chat"),
    ("gpt-4-turbo", "openai-chat"),
    ("gpt-3.5-turbo", "openai-chat"),
    # Anthropic direct, Bedrock and Vertex spellings (§1.4, §1.5, §3)
    ("claude-3-5-sonnet-20241022", "claude-3"),
    ("claude-3-haiku-20240307", "claude-3"),
    ("claude-3-7-sonnet-20250219", "claude-3-7"),
    ("claude-3-7-sonnet-latest", "claude-3-7"),
    ("claude-3-7-sonnet@20250219", "claude-3-7"),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7"),
    ("claude-sonnet-4-20250514", "claude-4"),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-4"),
    ("claude-opus-4-1-20250805", "claude-4"),
    ("claude-sonnet-4-5-20250929", "claude-4-5"),
    ("anthropic.claude-opus-4-5-20251101-v1:0", "claude-4-5"),
    ("anthropic.claude-haiku-4-5-20251001-v1:0", "claude-4-5"),
    ("eu.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-4-5"),
    ("claude-opus-4-6", "claude-4-6"),
    ("claude-sonnet-4.6", "claude-4-6"),
    ("anthropic.claude-opus-4-6-v1", "claude-4-6"),
    ("apac.anthropic.claude-sonnet-4-6", "claude-4-6"),
    ("bedrock/converse/anthropic.claude-sonnet-4-6", "claude-4-6"),
    ("claude-opus-4-7", "claude-4-7"),
    ("global.anthropic.claude-opus-4-7", "claude-4-7"),
    (
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-5-20251101-v1:0",
        "claude-4-5",
    ),
    # DeepSeek (§1.7)
    ("deepseek-reasoner", "deepseek-reasoner"),
    ("deepseek-chat", "deepseek-chat"),
    ("deepseek/deepseek-r1", "deepseek-reasoner"),
    ("deepseek.r1-v1:0", "deepseek-reasoner"),
    # xAI (§1.10)
    ("grok-3-mini", "xai-grok-3-mini"),
    ("grok-3", "xai-grok"),
    ("grok-4", "xai-grok-4"),
    ("grok-4-0709", "xai-grok-4"),
    ("grok-4-fast-reasoning", "xai-grok-4"),
    ("grok-code-fast-1", "xai-grok-4"),
    # Mistral (§1.11)
    ("mistral-large-latest", "mistral"),
    ("magistral-medium-2506", "mistral"),
    ("codestral-2501", "mistral"),
    ("open-mixtral-8x22b", "mistral"),
    # Gemini (§1.6)
    ("gemini-2.5-pro", "gemini-2-5"),
    ("gemini-2.5-flash-lite", "gemini-2-5"),
    ("gemini-3-pro-preview", "gemini-3"),
    ("gemini-1.5-pro", "gemini"),
    # Names that must NOT land in the o-series (§2.5, §3 pitfalls)
    ("demo1", "unknown"),
    ("foo-o1-bar", "unknown"),
    ("gpt-o1", "unknown"),  # an Azure deployment name: needs an alias
    ("my-prod-deployment", "unknown"),
    ("llama-3.1-8b-instruct", "unknown"),
]


def test_matrix_is_large_enough() -> None:
    assert len(MATRIX) >= 40
    assert len({model for model, _ in MATRIX}) == len(MATRIX)


@pytest.mark.parametrize(("model", "family"), MATRIX)
def test_family_matrix(model: str, family: str) -> None:
    assert KNOWLEDGE.resolver({}).by_name(model).family == family


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
        ("anthropic.claude-opus-4-6-v1", "claude-opus-4-6"),
        ("anthropic.claude-3-sonnet-20240229-v1:0:28k", "claude-3-sonnet"),
        ("claude-3-7-sonnet@20250219", "claude-3-7-sonnet"),
        ("claude-opus-4.6", "claude-opus-4-6"),
        ("claude_opus_4_6", "claude-opus-4-6"),
        ("openai/gpt-5.1", "gpt-5-1"),
        ("azure/gpt5_series/my-dep", "my-dep"),
        ("o1-2024-12-17", "o1"),
        ("gpt-5-chat-latest", "gpt-5-chat"),
        ("O4-Mini", "o4-mini"),
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", "gpt-4o-mini"),
        ("deepseek.r1-v1:0", "deepseek-r1"),
        ("deepseek-v3", "deepseek-v3"),  # not a Bedrock id: the -v3 is part of the name
    ],
)
def test_normalise(raw: str, normal: str) -> None:
    assert normalise(raw) == normal


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/openai/deployments/prod-chat/chat/completions", "prod-chat"),
        (
            "/model/us.anthropic.claude-sonnet-4-20250514-v1:0/invoke",
            "us.anthropic.claude-sonnet-4-20250514-v1:0",
        ),
        (
            "/model/anthropic.claude-3-7-sonnet-20250219-v1%3A0/converse-stream",
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
        ),
        (
            "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Ainference-profile%2Fus.anthropic.claude-opus-4-7/invoke",
            "arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-opus-4-7",
        ),
        ("/v1beta/models/gemini-2.5-pro:generateContent", "gemini-2.5-pro"),
        ("/v1beta/models/gemini-3-pro-preview:streamGenerateContent", "gemini-3-pro-preview"),
        ("/v1/chat/completions", None),
        ("/v1/models", None),
    ],
)
def test_model_from_path(path: str, model: str | None) -> None:
    assert model_from_path(path) == model


def test_url_model_wins_over_body_model() -> None:
    resolver = KNOWLEDGE.resolver({})
    profile = resolver.resolve("/model/anthropic.claude-opus-4-7/invoke", "gpt-4o")
    assert (profile.family, profile.source) == ("claude-4-7", "url")


def test_alias_maps_azure_deployment_to_model() -> None:
    resolver = KNOWLEDGE.resolver({"prod-reasoner": "o4-mini", "gpt-o1": "o1"})
    profile = resolver.resolve("/openai/deployments/prod-reasoner/chat/completions", None)
    assert (profile.family, profile.model, profile.canonical, profile.source) == (
        "openai-o-series",
        "prod-reasoner",
        "o4-mini",
        "url+alias",
    )
    assert resolver.by_name("gpt-o1").family == "openai-o-series"
    assert resolver.by_name("azure/gpt-o1").family == "openai-o-series"  # alias of the last segment
    assert resolver.by_name("GPT-O1").family == "openai-o-series"  # case-insensitive fallback


def test_alias_takes_precedence_over_a_matching_name() -> None:
    # An operator who says "this deployment called o3 actually serves gpt-4o" is believed.
    assert KNOWLEDGE.resolver({"o3": "gpt-4o"}).by_name("o3").family == "openai-chat"


def test_no_model_is_unknown() -> None:
    profile = KNOWLEDGE.resolver({}).resolve("/v1/chat/completions", None)
    assert (profile.family, profile.model, profile.known) == ("unknown", None, False)
    assert profile.rules == ()


def test_non_string_model_is_unknown() -> None:
    assert KNOWLEDGE.resolver({}).resolve("/v1/chat/completions", 42).family == "unknown"


def test_unknown_profile_carries_no_rules() -> None:
    profile = KNOWLEDGE.resolver({}).by_name("demo1")
    assert profile.rules == ()


def test_resolution_is_memoised_and_bounded() -> None:
    resolver = KNOWLEDGE.resolver({})
    first = resolver.by_name("o4-mini")
    assert resolver.by_name("o4-mini") is first
    for i in range(5000):
        resolver.by_name(f"model-{i}")
    info = resolver._lookup.cache_info()
    assert info.currsize <= info.maxsize


def test_unknown_family_fallback() -> None:
    resolver = KNOWLEDGE.resolver({}, unknown_family="vllm-legacy")
    assert resolver.by_name("acme/served-model-32b").family == "vllm-legacy"
    assert resolver.by_name("o3").family == "openai-o-series"
