"""Every built-in rule: a realistic body before and after, and the same body to a model where the
rule does not apply, untouched. Each case names the provider fact it encodes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from sidecar.config import Dialect
from sidecar.rewrite.engine import Policy, Result, rewrite
from sidecar.rewrite.knowledge import load_knowledge

KNOWLEDGE = load_knowledge()
RESOLVER = KNOWLEDGE.resolver({})

USER = [{"role": "user", "content": "Summarise the attached report in three bullet points."}]


@dataclass(frozen=True)
class Case:
    rule: str
    fact: str  # the provider-rules.md section the rule encodes
    model: str
    before: dict[str, Any]
    after: dict[str, Any]
    control: str  # a model the rule does not apply to: the same body must come back untouched
    dialect: Dialect = Dialect.OPENAI
    path: str = "/v1/chat/completions"
    control_path: str | None = None
    extra_rules: tuple[str, ...] = field(default=())  # other rules the body legitimately triggers


SEED_MODEL = "litellm_proxy/anthropic.claude-3-7-sonnet-20250219-v1:0"
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]


def chat(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": USER, **fields}


CASES = [
    # provider-rules.md §1.1: "Unsupported parameter: 'max_tokens' ... Use 'max_completion_tokens'"
    Case(
        rule="openai-max-tokens-to-max-completion-tokens",
        fact="provider-rules.md §1.1",
        model="o4-mini",
        before=chat("o4-mini", max_tokens=512, stream=True),
        after={"model": "o4-mini", "messages": USER, "max_completion_tokens": 512, "stream": True},
        control="gpt-4o",
    ),
    # provider-rules.md §1.1/§1.2: temperature other than the default 1 -> 400 unsupported_value
    Case(
        rule="openai-temperature-default-only",
        fact="provider-rules.md §1.2",
        model="gpt-5-mini",
        before=chat("gpt-5-mini", temperature=0.2, user="u-1"),
        after={"model": "gpt-5-mini", "messages": USER, "user": "u-1"},
        control="gpt-5-chat-latest",
    ),
    # provider-rules.md §1.1: top_p / logprobs / top_logprobs unsupported on reasoning models
    Case(
        rule="openai-sampling-params-unsupported",
        fact="provider-rules.md §1.1",
        model="o3",
        before=chat("o3", top_p=0.9, logprobs=True, top_logprobs=3, n=1),
        after={"model": "o3", "messages": USER, "n": 1},
        control="gpt-4.1",
    ),
    # provider-rules.md §1.1: penalties and logit_bias unsupported
    Case(
        rule="openai-penalties-unsupported",
        fact="provider-rules.md §1.1",
        model="o3-mini",
        before=chat("o3-mini", presence_penalty=0.5, frequency_penalty=0.1, logit_bias={"50256": -100}),
        after={"model": "o3-mini", "messages": USER},
        control="gpt-4o-mini",
    ),
    # provider-rules.md §1.1: o-series reject the parallel_tool_calls key itself, even false
    Case(
        rule="openai-parallel-tool-calls-unsupported",
        fact="provider-rules.md §1.1",
        model="o4-mini-2025-04-16",
        before=chat(
            "o4-mini-2025-04-16",
            tools=[{"type": "function", "function": {"name": "f"}}],
            parallel_tool_calls=False,
        ),
        after={
            "model": "o4-mini-2025-04-16",
            "messages": USER,
            "tools": [{"type": "function", "function": {"name": "f"}}],
        },
        control="gpt-5-mini",
    ),
    # provider-rules.md §1.3: parallel tool calls unsupported with reasoning_effort minimal
    Case(
        rule="openai-gpt-5-parallel-tool-calls-minimal-effort",
        fact="provider-rules.md §1.3",
        model="gpt-5",
        before=chat("gpt-5", reasoning_effort="minimal", parallel_tool_calls=True),
        after={"model": "gpt-5", "messages": USER, "reasoning_effort": "minimal"},
        control="gpt-5-chat-latest",  # gpt-4o drops reasoning_effort (thinking.unsupported)
    ),
    # provider-rules.md §1.2: gpt-5.1 takes temperature/top_p/logprobs only with effort none
    Case(
        rule="openai-gpt-5-1-sampling-needs-effort-none",
        fact="provider-rules.md §1.2",
        model="gpt-5.1",
        before=chat("gpt-5.1", reasoning_effort="high", temperature=0.3, top_p=0.8),
        after={"model": "gpt-5.1", "messages": USER, "reasoning_effort": "high"},
        control="gpt-5-chat-latest",  # gpt-4o drops reasoning_effort (thinking.unsupported)
    ),
    # provider-rules.md §1.1: o1-mini/o1-preview accept neither system nor developer messages
    Case(
        rule="openai-o1-legacy-roles",
        fact="provider-rules.md §1.1",
        model="o1-mini",
        before={"model": "o1-mini", "messages": [{"role": "system", "content": "Be terse."}, *USER]},
        after={"model": "o1-mini", "messages": [{"role": "user", "content": "Be terse."}, *USER]},
        control="o1",
    ),
    # provider-rules.md §1.10: xAI wants max_tokens (LiteLLM maps max_completion_tokens back)
    Case(
        rule="compat-max-completion-tokens-to-max-tokens",
        fact="provider-rules.md §1.10",
        model="grok-3",
        before=chat("grok-3", max_completion_tokens=300),
        after={"model": "grok-3", "messages": USER, "max_tokens": 300},
        control="gpt-4o",
    ),
    # provider-rules.md §1.10 (and §1.2 for gpt-5): stop fails on grok-3-mini / grok-4
    Case(
        rule="compat-stop-unsupported",
        fact="provider-rules.md §1.10",
        model="grok-3-mini",
        before=chat("grok-3-mini", stop=["\n\n"]),
        after={"model": "grok-3-mini", "messages": USER},
        control="grok-3",
    ),
    # provider-rules.md §1.1 (role handling): non-OpenAI providers take system, not developer
    Case(
        rule="compat-developer-role-to-system",
        fact="provider-rules.md §1.1",
        model="deepseek-chat",
        before={"model": "deepseek-chat", "messages": [{"role": "developer", "content": "Be terse."}, *USER]},
        after={"model": "deepseek-chat", "messages": [{"role": "system", "content": "Be terse."}, *USER]},
        control="gpt-4o",
    ),
    # provider-rules.md §1.2: "'minimal' is not supported with the 'gpt-5.1' model"
    Case(
        rule="reasoning-effort-fit",
        fact="provider-rules.md §1.2",
        model="gpt-5.1",
        before=chat("gpt-5.1", reasoning_effort="minimal"),
        after={"model": "gpt-5.1", "messages": USER, "reasoning_effort": "low"},
        control="gpt-5",
        extra_rules=("openai-gpt-5-1-sampling-needs-effort-none",),
    ),
    # provider-rules.md §1.7: deepseek-reasoner errors on logprobs / top_logprobs
    Case(
        rule="deepseek-reasoner-logprobs",
        fact="provider-rules.md §1.7",
        model="deepseek-reasoner",
        before=chat("deepseek-reasoner", logprobs=True, top_logprobs=2, temperature=0.7),
        after={"model": "deepseek-reasoner", "messages": USER, "temperature": 0.7},
        control="deepseek-chat",
    ),
    # provider-rules.md §1.10: grok-4 fails when frequency_penalty is sent
    Case(
        rule="xai-grok-4-frequency-penalty",
        fact="provider-rules.md §1.10",
        model="grok-4-0709",
        before=chat("grok-4-0709", frequency_penalty=0.4),
        after={"model": "grok-4-0709", "messages": USER},
        control="grok-3",
    ),
    # provider-rules.md §1.11: seed -> random_seed
    Case(
        rule="mistral-seed-to-random-seed",
        fact="provider-rules.md §1.11",
        model="mistral-large-latest",
        before=chat("mistral-large-latest", seed=42, temperature=0.3),
        after={"model": "mistral-large-latest", "messages": USER, "random_seed": 42, "temperature": 0.3},
        control="gpt-4o",
    ),
    # provider-rules.md §1.11: tool_choice "required" -> "any"
    Case(
        rule="mistral-tool-choice-required",
        fact="provider-rules.md §1.11",
        model="mistral-small-2506",
        before=chat("mistral-small-2506", tool_choice="required"),
        after={"model": "mistral-small-2506", "messages": USER, "tool_choice": "any"},
        control="gpt-4o",
    ),
    # provider-rules.md §1.11: message `name` dropped (litellm issue #6696)
    Case(
        rule="mistral-message-name",
        fact="provider-rules.md §1.11",
        model="codestral-latest",
        before={"model": "codestral-latest", "messages": [{"role": "user", "name": "ann", "content": "hi"}]},
        after={"model": "codestral-latest", "messages": [{"role": "user", "content": "hi"}]},
        control="gpt-4o",
    ),
    # provider-rules.md §1.4: max_tokens is required on the Messages API
    Case(
        rule="anthropic-max-tokens-default",
        fact="provider-rules.md §1.4",
        model="claude-3-5-haiku-20241022",
        before={"model": "claude-3-5-haiku-20241022", "messages": USER},
        after={"model": "claude-3-5-haiku-20241022", "messages": USER, "max_tokens": 4096},
        control="my-inhouse-model",
        dialect=Dialect.ANTHROPIC,
        path="/v1/messages",
    ),
    # provider-rules.md §1.5: a Bedrock InvokeModel Claude body is a Messages body
    Case(
        rule="bedrock-invoke-max-tokens-default",
        fact="provider-rules.md §1.5",
        model="anthropic.claude-3-7-sonnet-20250219-v1:0",
        before={"anthropic_version": "bedrock-2023-05-31", "messages": USER},
        after={"anthropic_version": "bedrock-2023-05-31", "messages": USER, "max_tokens": 4096},
        control="meta.llama3-70b-instruct-v1:0",
        dialect=Dialect.BEDROCK,
        path="/model/anthropic.claude-3-7-sonnet-20250219-v1:0/invoke",
        control_path="/model/meta.llama3-70b-instruct-v1:0/invoke",
    ),
    # provider-rules.md §1.4: "`temperature` and `top_p` cannot both be specified for this model"
    Case(
        rule="claude-temperature-top-p-conflict",
        fact="provider-rules.md §1.4",
        model="claude-sonnet-4-5-20250929",
        before={
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 1024,
            "messages": USER,
            "temperature": 0.5,
            "top_p": 0.9,
        },
        after={
            "model": "claude-sonnet-4-5-20250929",
            "max_tokens": 1024,
            "messages": USER,
            "temperature": 0.5,
        },
        control="claude-3-7-sonnet-20250219",
        dialect=Dialect.ANTHROPIC,
        path="/v1/messages",
    ),
    # provider-rules.md §1.5: the same conflict on Bedrock Sonnet 4.6 through Converse
    Case(
        rule="claude-converse-temperature-top-p-conflict",
        fact="provider-rules.md §1.5",
        model="us.anthropic.claude-sonnet-4-6",
        before={
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.5, "topP": 0.9},
        },
        after={
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.5},
        },
        control="us.anthropic.claude-sonnet-4-20250514-v1:0",
        dialect=Dialect.BEDROCK,
        path="/model/us.anthropic.claude-sonnet-4-6/converse",
        control_path="/model/us.anthropic.claude-sonnet-4-20250514-v1:0/converse",
    ),
    # provider-rules.md §1.4: Opus 4.7 "`temperature` is deprecated for this model."
    Case(
        rule="claude-sampling-removed",
        fact="provider-rules.md §1.4",
        model="claude-opus-4-7",
        before={
            "model": "claude-opus-4-7",
            "max_tokens": 2048,
            "messages": USER,
            "temperature": 0.2,
            "top_k": 40,
        },
        after={"model": "claude-opus-4-7", "max_tokens": 2048, "messages": USER},
        control="claude-opus-4-1-20250805",
        dialect=Dialect.ANTHROPIC,
        path="/v1/messages",
    ),
    # provider-rules.md §1.4/§1.5: the same removal on Bedrock Converse
    Case(
        rule="claude-converse-sampling-removed",
        fact="provider-rules.md §1.5",
        model="global.anthropic.claude-opus-4-7",
        before={
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": 512, "temperature": 0.2},
        },
        after={
            "messages": [{"role": "user", "content": [{"text": "hi"}]}],
            "inferenceConfig": {"maxTokens": 512},
        },
        control="global.anthropic.claude-opus-4-5-20251101-v1:0",
        dialect=Dialect.BEDROCK,
        path="/model/global.anthropic.claude-opus-4-7/converse",
        control_path="/model/global.anthropic.claude-opus-4-5-20251101-v1:0/converse",
    ),
    # provider-rules.md §1.4: "`temperature` may only be set to 1 when thinking is enabled"
    Case(
        rule="claude-thinking-temperature",
        fact="provider-rules.md §1.4",
        model="claude-3-7-sonnet-20250219",
        before={
            "model": "claude-3-7-sonnet-20250219",
            "max_tokens": 8000,
            "messages": USER,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "temperature": 0.3,
            "top_k": 5,
        },
        after={
            "model": "claude-3-7-sonnet-20250219",
            "max_tokens": 8000,
            "messages": USER,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
        },
        # claude-3-5 cannot think (the thinking step removes `thinking`); an unversioned Claude
        # has no thinking capability, so the rule does not apply and nothing else does either.
        control="claude-instant-1.2",
        dialect=Dialect.ANTHROPIC,
        path="/v1/messages",
    ),
    # provider-rules.md §1.4 + §1.12: a LiteLLM proxy in front of Claude takes OpenAI-shaped
    # tool_choice; "required" with thinking -> "Thinking may not be enabled when tool_choice forces tool use."
    Case(
        rule="claude-thinking-forced-tool-choice-openai-shape",
        fact="provider-rules.md §1.4",
        model=SEED_MODEL,
        before={
            "model": SEED_MODEL,
            "max_tokens": 8000,
            "messages": USER,
            "tools": TOOLS,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tool_choice": "required",
        },
        after={
            "model": SEED_MODEL,
            "max_tokens": 8000,
            "messages": USER,
            "tools": TOOLS,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tool_choice": "auto",
        },
        control="acme-internal-7b",
        dialect=Dialect.OPENAI_COMPATIBLE,
    ),
    Case(
        rule="claude-thinking-forced-named-tool-openai-shape",
        fact="provider-rules.md §1.4",
        model=SEED_MODEL,
        before={
            "model": SEED_MODEL,
            "max_tokens": 8000,
            "messages": USER,
            "tools": TOOLS,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        },
        after={
            "model": SEED_MODEL,
            "max_tokens": 8000,
            "messages": USER,
            "tools": TOOLS,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tool_choice": "auto",
        },
        control="acme-internal-7b",
        dialect=Dialect.OPENAI_COMPATIBLE,
    ),
    # provider-rules.md §1.4: "Thinking may not be enabled when tool_choice forces tool use."
    Case(
        rule="claude-thinking-forced-tool-choice",
        fact="provider-rules.md §1.4",
        model="claude-opus-4-5-20251101",
        before={
            "model": "claude-opus-4-5-20251101",
            "max_tokens": 4000,
            "messages": USER,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "tool", "name": "lookup"},
        },
        after={
            "model": "claude-opus-4-5-20251101",
            "max_tokens": 4000,
            "messages": USER,
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "tools": [{"name": "lookup", "input_schema": {"type": "object"}}],
            "tool_choice": {"type": "auto"},
        },
        control="my-inhouse-model",
        dialect=Dialect.ANTHROPIC,
        path="/v1/messages",
    ),
]


def run(model: str, body: dict[str, Any], dialect: Dialect, path: str) -> Result:
    profile = RESOLVER.resolve(path, model)
    return rewrite(dialect, profile, body, Policy())


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_rule_rewrites_realistic_body(case: Case) -> None:
    result = run(case.model, case.before, case.dialect, case.path)
    assert result.body == case.after
    assert list(result.body) == list(case.after), "key order must be preserved"
    fired = {c.rule for c in result.changes}
    assert case.rule in fired
    assert fired <= {case.rule, *case.extra_rules}


@pytest.mark.parametrize("case", CASES, ids=[c.rule for c in CASES])
def test_same_body_to_other_model_untouched(case: Case) -> None:
    body = dict(case.before)
    if "model" in body:
        body["model"] = case.control
    result = run(case.control, body, case.dialect, case.control_path or case.path)
    assert result.changes == ()
    assert result.body is body


def test_every_builtin_rule_has_a_case() -> None:
    assert {c.rule for c in CASES} == set(KNOWLEDGE.rules)


def test_every_builtin_rule_cites_a_provider_fact() -> None:
    for compiled in KNOWLEDGE.rules.values():
        assert compiled.rule.source.startswith("provider-rules.md §"), compiled.id
        assert "\n" not in compiled.rule.reason
