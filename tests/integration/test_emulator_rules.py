"""The emulator is exactly as strict as the providers: each documented invalid request is rejected
with the provider's real shape and message, and the corrected request is accepted.

Every case cites the provider-rules.md section it encodes. Messages marked APPROXIMATE in
`sidecar/emulator/rules.py` are checked for status and shape only (the reference lacks the text).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.emulated import AZURE_QUERY, post

HI = [{"role": "user", "content": "hi"}]
CHAT = "/v1/chat/completions"
AZURE = "/openai/deployments/{}/chat/completions" + AZURE_QUERY
MESSAGES = "/v1/messages"
DEEPSEEK = "/deepseek/chat/completions"
DEEPSEEK_THINKING = "/deepseek-thinking/chat/completions"
LITELLM = "/litellm/v1/chat/completions"
BUDGET_DOCS = (
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)
TEMP_DOCS = "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking#important-considerations-when-using-extended-thinking"


@dataclass(frozen=True)
class Case:
    id: str
    path: str
    bad: dict[str, Any]
    fixed: dict[str, Any]
    message: str | None  # exact text; None when the reference has no wording (APPROXIMATE)
    param: str | None = None
    code: str | None = None


def chat(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "messages": HI, **fields}


def claude(model: str, **fields: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 4096, "messages": HI, **fields}


def thinking(budget: int) -> dict[str, Any]:
    return {"type": "enabled", "budget_tokens": budget}


MAX_TOKENS_MSG = "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."

UNSUPPORTED = "Unsupported parameter: '{}' is not supported with this model."
ONLY_DEFAULT = "Unsupported value: 'temperature' does not support {} with this model. Only the default (1) value is supported."
EFFORT = (
    "Unsupported value: 'reasoning_effort' does not support '{}' with this model. Supported values are: {}."
)


def openai_case(
    id: str, model: str, bad: dict[str, Any], fixed: dict[str, Any], message: str, param: str, code: str
) -> Case:
    return Case(id, CHAT, chat(model, **bad), chat(model, **fixed), message, param, code)


# fmt: off
OPENAI_CASES = [
    # §1.1 max_tokens on every o-series model; §1.2 on gpt-5 reasoning models (and gpt-5.2-chat-latest).
    *(openai_case(f"s1.1-max_tokens-{m}", m, {"max_tokens": 100}, {"max_completion_tokens": 100},
                  MAX_TOKENS_MSG, "max_tokens", "unsupported_parameter")
      for m in ("o1", "o1-mini", "o3", "o3-mini", "o4-mini", "o4-mini-2025-04-16",
                "gpt-5", "gpt-5-mini", "gpt-5-nano", "gpt-5.2-chat-latest")),
    # §1.1 temperature != 1 on o1-mini / o4-mini; §1.2 on gpt-5(-mini): only the default (1).
    *(openai_case(f"s1.1-temperature-{m}", m, {"temperature": value}, {"temperature": 1},
                  ONLY_DEFAULT.format(value), "temperature", "unsupported_value")
      for m, value in (("o1-mini", 0.6), ("o4-mini", 0.2), ("o1", 0), ("gpt-5", 0.01), ("gpt-5-mini", 0))),
    # §1.1 o3-mini refuses the temperature key itself; §1.1/§1.2 sampling and scoring keys;
    # §1.1 parallel_tool_calls, even false.
    *(openai_case(f"s1.1-{param}-{m}", m, {param: value}, {}, UNSUPPORTED.format(param), param,
                  "unsupported_parameter")
      for m, param, value in (
          ("o3-mini", "temperature", 0.5),
          ("o4-mini", "top_p", 0.9),
          ("o3", "presence_penalty", 0.5),
          ("o1", "frequency_penalty", 0.5),
          ("o3-mini", "logprobs", True),
          ("o4-mini", "logit_bias", {"50256": -100}),
          ("gpt-5", "top_p", 0.9),
          ("gpt-5-mini", "stop", ["\n"]),
          *((m, "parallel_tool_calls", False) for m in ("o1", "o3-mini", "o3", "o4-mini")),
      )),
    # §1.2 reasoning_effort outside the model's set (gpt-5-mini refusing xhigh is the quoted text).
    *(openai_case(f"s1.2-reasoning_effort-{bad}-{m}", m, {"reasoning_effort": bad}, {"reasoning_effort": good},
                  EFFORT.format(bad, supported), "reasoning_effort", "unsupported_value")
      for m, bad, good, supported in (
          ("gpt-5-mini", "xhigh", "high", "'minimal', 'low', 'medium', and 'high'"),
          ("o4-mini", "minimal", "low", "'low', 'medium', and 'high'"),
          ("gpt-5.1", "minimal", "none", "'none', 'low', 'medium', and 'high'"),
      )),
    # §1.2 gpt-5.1: temperature only with effort "none".
    openai_case("s1.2-temperature-gpt-5.1-with-effort", "gpt-5.1",
                {"reasoning_effort": "high", "temperature": 0.2}, {"reasoning_effort": "none", "temperature": 0.2},
                UNSUPPORTED.format("temperature"), "temperature", "unsupported_parameter"),
    # §1.1 o1-mini: no reasoning_effort, no system role.
    openai_case("s1.1-reasoning_effort-o1-mini", "o1-mini", {"reasoning_effort": "low"}, {},
                "Unknown parameter: 'reasoning_effort'.", "reasoning_effort", "unknown_parameter"),
    Case("s1.1-system-role-o1-mini", CHAT,
         {"model": "o1-mini", "messages": [{"role": "system", "content": "be brief"}, *HI]},
         {"model": "o1-mini", "messages": [{"role": "user", "content": "be brief"}, *HI]},
         "Unsupported value: 'messages[0].role' does not support 'system' with this model.",
         "messages[0].role", "unsupported_value"),
    # §1.3 Azure: the deployment hides the model; the same rules and the same shape apply.
    Case("s1.3-azure-max_tokens-prod-reasoner", AZURE.format("prod-reasoner"),
         {"messages": HI, "max_tokens": 50}, {"messages": HI, "max_completion_tokens": 50},
         MAX_TOKENS_MSG, "max_tokens", "unsupported_parameter"),
    Case("s1.3-azure-v1-max_tokens-prod-reasoner", "/openai/v1/chat/completions",
         {"model": "prod-reasoner", "messages": HI, "max_tokens": 50},
         {"model": "prod-reasoner", "messages": HI, "max_completion_tokens": 50},
         MAX_TOKENS_MSG, "max_tokens", "unsupported_parameter"),
    Case("s1.3-azure-temperature-gpt-o1", AZURE.format("gpt-o1"),
         {"messages": HI, "temperature": 0.7}, {"messages": HI},
         ONLY_DEFAULT.format(0.7), "temperature", "unsupported_value"),
]
# fmt: on

TOOLS = [{"name": "f", "input_schema": {"type": "object"}}]

# fmt: off
ANTHROPIC_CASES = [
    Case(id, MESSAGES, bad, fixed, message)
    for id, bad, fixed, message in (
        # §1.4 general constraints: max_tokens required; budget >= 1024; budget < max_tokens;
        # temperature only 1 with thinking; no forced tool use with thinking.
        ("s1.4-max_tokens-required",
         {"model": "claude-sonnet-4-5", "messages": HI}, claude("claude-sonnet-4-5"),
         "max_tokens: Field required"),
        ("s1.4-budget-below-1024",
         claude("claude-3-7-sonnet-20250219", thinking=thinking(512)),
         claude("claude-3-7-sonnet-20250219", thinking=thinking(1024)),
         "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"),
        ("s1.4-budget-not-below-max_tokens",
         claude("claude-sonnet-4-20250514", max_tokens=2048, thinking=thinking(2048)),
         claude("claude-sonnet-4-20250514", max_tokens=2049, thinking=thinking(2048)),
         f"`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at {BUDGET_DOCS}"),
        ("s1.4-temperature-with-thinking",
         claude("claude-3-7-sonnet-latest", temperature=0.7, thinking=thinking(2048)),
         claude("claude-3-7-sonnet-latest", temperature=1, thinking=thinking(2048)),
         f"`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at {TEMP_DOCS}"),
        ("s1.4-forced-tool_choice-with-thinking",
         claude("claude-sonnet-4-5", thinking=thinking(2048), tools=TOOLS, tool_choice={"type": "any"}),
         claude("claude-sonnet-4-5", thinking=thinking(2048), tools=TOOLS, tool_choice={"type": "auto"}),
         "Thinking may not be enabled when tool_choice forces tool use."),
        # §1.4 Claude 4.5+: temperature and top_p together.
        ("s1.4-temperature-and-top_p-sonnet-4-5",
         claude("claude-sonnet-4-5-20250929", temperature=0.5, top_p=0.9),
         claude("claude-sonnet-4-5-20250929", temperature=0.5),
         "`temperature` and `top_p` cannot both be specified for this model. Please use only one."),
        # §1.4 Opus 4.7: temperature deprecated; thinking.type enabled refused (APPROXIMATE tail).
        ("s1.4-temperature-opus-4-7",
         claude("claude-opus-4-7", temperature=0.3), claude("claude-opus-4-7"),
         "`temperature` is deprecated for this model."),
        ("s1.4-thinking-enabled-opus-4-7",
         claude("claude-opus-4-7", thinking=thinking(2048)),
         claude("claude-opus-4-7", thinking={"type": "adaptive"}, output_config={"effort": "high"}),
         None),
        # An OpenAI field sent to the Messages API is an extra input.
        ("s1.4-reasoning_effort-extra-input",
         claude("claude-sonnet-4-5", reasoning_effort="high"),
         claude("claude-sonnet-4-5", thinking=thinking(2048)),
         "reasoning_effort: Extra inputs are not permitted"),
        # §1.4 adaptive thinking is 4.6+ only (APPROXIMATE wording).
        ("s1.4-adaptive-before-4-6",
         claude("claude-sonnet-4-5", thinking={"type": "adaptive"}),
         claude("claude-sonnet-4-6", thinking={"type": "adaptive"}),
         None),
    )
]
# fmt: on

COMPAT_CASES = [
    # §1.7 DeepSeek R1: reasoning_content in the input (APPROXIMATE), logprobs (APPROXIMATE), turn order (exact).
    Case(
        "s1.7-deepseek-reasoning_content-in-history",
        DEEPSEEK,
        {
            "model": "deepseek-reasoner",
            "messages": [*HI, {"role": "assistant", "content": "4", "reasoning_content": "r"}, *HI],
        },
        {"model": "deepseek-reasoner", "messages": [*HI, {"role": "assistant", "content": "4"}, *HI]},
        None,
        code="invalid_request_error",
    ),
    Case(
        "s1.7-deepseek-logprobs",
        DEEPSEEK,
        chat("deepseek-reasoner", logprobs=True),
        chat("deepseek-reasoner"),
        None,
        code="invalid_request_error",
    ),
    Case(
        "s1.7-deepseek-successive-user-messages",
        DEEPSEEK,
        {"model": "deepseek-reasoner", "messages": [{"role": "system", "content": "s"}, *HI, *HI]},
        {"model": "deepseek-reasoner", "messages": [{"role": "system", "content": "s"}, *HI]},
        "deepseek-reasoner does not support successive user or assistant messages (messages[1] and messages[2] in your input). You should interleave the user/assistant messages in the message sequence.",
        code="invalid_request_error",
    ),
]


TOOL_CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
TOOL_TURN = [
    *HI,
    {"role": "assistant", "content": None, "tool_calls": [TOOL_CALL]},
    {"role": "tool", "tool_call_id": "c1", "content": "ok"},
]
THINKING_CASES = [
    # §1.7 thinking mode: after a tool call in this turn, reasoning_content must come back.
    Case(
        "s1.7-deepseek-thinking-reasoning_content-required-after-tool-call",
        DEEPSEEK_THINKING,
        {"model": "deepseek-reasoner", "messages": TOOL_TURN},
        {
            "model": "deepseek-reasoner",
            "messages": [*HI, {**TOOL_TURN[1], "reasoning_content": "call f"}, TOOL_TURN[2]],
        },
        "Missing 'reasoning_content' field in the assistant message at message index 1.",
        code="invalid_request_error",
    ),
]


async def _check(base: str, case: Case) -> None:
    bad = await post(base, case.path, case.bad)
    assert bad.status == 400, bad.raw
    body = bad.json()
    if case.path == MESSAGES:
        assert body["type"] == "error"
        assert body["error"]["type"] == "invalid_request_error"
        message = body["error"]["message"]
    else:
        error = body["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "invalid_request_error"
        assert error["param"] == case.param
        assert error["code"] == case.code
        message = error["message"]
    if case.message is not None:
        assert message == case.message
    good = await post(base, case.path, case.fixed)
    assert good.status == 200, good.raw


@pytest.mark.parametrize(
    "case", OPENAI_CASES + ANTHROPIC_CASES + COMPAT_CASES + THINKING_CASES, ids=lambda c: c.id
)
async def test_rejects_documented_invalid_request_and_accepts_the_fix(emulator, case):
    await _check(emulator.url, case)


# Requests the providers accept: the emulator must not be stricter than they are.
ACCEPTED = [
    # §1.2 gpt-5-chat-latest behaves like a chat model: temperature and max_tokens accepted.
    (CHAT, chat("gpt-5-chat-latest", temperature=0.2, max_tokens=50)),
    (CHAT, chat("gpt-4o", temperature=0.2, max_tokens=50, top_p=0.5, parallel_tool_calls=False)),
    # §1.1 o1/o3/o4-mini accept system and developer roles; temperature 1 is the default.
    (CHAT, {"model": "o4-mini", "messages": [{"role": "system", "content": "s"}, *HI], "temperature": 1}),
    (
        CHAT,
        {"model": "o3", "messages": [{"role": "developer", "content": "s"}, *HI], "reasoning_effort": "high"},
    ),
    # §1.2 gpt-5 accepts minimal; gpt-5.1 accepts temperature at effort none (its default).
    (CHAT, chat("gpt-5", reasoning_effort="minimal", max_completion_tokens=100)),
    (CHAT, chat("gpt-5.1", temperature=0.3, top_p=0.5)),
    # §1.4: without thinking, Claude before 4.5 takes temperature, top_p and top_k together.
    (MESSAGES, claude("claude-3-5-sonnet-20241022", temperature=0.2, top_p=0.9, top_k=5)),
    (MESSAGES, claude("claude-opus-4-6", thinking={"type": "adaptive"}, output_config={"effort": "max"})),
    (MESSAGES, claude("claude-sonnet-4-6", thinking=thinking(2048), temperature=1)),
    # §1.7 DeepSeek silently ignores sampling parameters on the reasoner.
    (DEEPSEEK, chat("deepseek-reasoner", temperature=0.2, top_p=0.3, presence_penalty=1)),
    (DEEPSEEK, chat("deepseek-chat", logprobs=True)),
    # §1.7 thinking mode: reasoning_content in the history is fine; without thinking no echo needed.
    (
        DEEPSEEK_THINKING,
        {
            "model": "deepseek-reasoner",
            "messages": [*HI, {"role": "assistant", "content": "4", "reasoning_content": "r"}, *HI],
        },
    ),
    (DEEPSEEK_THINKING, {"model": "deepseek-chat", "messages": TOOL_TURN, "thinking": {"type": "disabled"}}),
    (DEEPSEEK_THINKING, chat("deepseek-chat", thinking={"type": "enabled"}, reasoning_effort="max")),
    # §1.12 LiteLLM proxy: `thinking` inside a chat-completions body for Claude.
    (LITELLM, chat("anthropic.claude-3-7-sonnet-20250219-v1:0", thinking=thinking(1024))),
    (LITELLM, chat("claude-3-7-sonnet-20250219", thinking=thinking(1024), max_tokens=4096)),
]


@pytest.mark.parametrize(
    ("path", "body"), ACCEPTED, ids=[f"{p}-{b['model']}-{i}" for i, (p, b) in enumerate(ACCEPTED)]
)
async def test_accepts_what_the_provider_accepts(emulator, path, body):
    answer = await post(emulator.url, path, body)
    assert answer.status == 200, answer.raw


async def test_interleaved_thinking_beta_allows_budget_above_max_tokens(emulator):
    """§1.4: with `interleaved-thinking-2025-05-14` and tools, budget_tokens may exceed max_tokens."""
    body = claude(
        "claude-sonnet-4-20250514",
        max_tokens=2048,
        thinking=thinking(4096),
        tools=[{"name": "f", "input_schema": {"type": "object"}}],
    )
    assert (await post(emulator.url, MESSAGES, body)).status == 400
    beta = {"anthropic-beta": "interleaved-thinking-2025-05-14"}
    assert (await post(emulator.url, MESSAGES, body, beta)).status == 200


async def test_thinking_history_must_start_with_thinking_on_tool_turns(emulator):
    """§1.4 "Thinking + tools, multi-turn": exact message, and the fix (thinking block first)."""
    tool_use = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    history = [
        *HI,
        {"role": "assistant", "content": [{"type": "text", "text": "calling"}, tool_use]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
    ]
    body = {
        **claude("claude-sonnet-4-5", thinking=thinking(2048)),
        "messages": history,
        "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    }
    bad = await post(emulator.url, MESSAGES, body)
    assert bad.status == 400
    assert bad.json()["error"]["message"] == (
        "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `text`. When `thinking` "
        "is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of "
        "`tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To "
        "avoid this requirement, disable `thinking`."
    )
    signed = {"type": "thinking", "thinking": "t", "signature": "sig"}
    history[1] = {"role": "assistant", "content": [signed, {"type": "text", "text": "calling"}, tool_use]}
    assert (await post(emulator.url, MESSAGES, body)).status == 200


async def test_litellm_proxy_rejects_reasoning_effort_for_claude(emulator):
    """§1.12 / issue 4's seed: the LiteLLM proxy refuses reasoning_effort, accepts thinking."""
    bad = await post(
        emulator.url, LITELLM, chat("anthropic.claude-3-7-sonnet-20250219-v1:0", reasoning_effort="high")
    )
    assert bad.status == 400
    error = bad.json()["error"]
    assert error["code"] == "400"
    assert error["message"].startswith(
        "litellm.UnsupportedParamsError: bedrock does not support parameters: ['reasoning_effort'], "
        "for model=anthropic.claude-3-7-sonnet-20250219-v1:0. To drop these, set `litellm.drop_params=True`"
    )


async def test_litellm_proxy_relays_claude_thinking_errors(emulator):
    """§1.12 + §1.4: a LiteLLM proxy forwards `thinking` to Claude, whose budget floor applies."""
    bad = await post(
        emulator.url, LITELLM, chat("anthropic.claude-3-7-sonnet-20250219-v1:0", thinking=thinking(512))
    )
    assert bad.status == 400
    message = bad.json()["error"]["message"]
    assert message.startswith("litellm.BadRequestError: BedrockException - ")
    assert "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024" in message


async def test_litellm_proxy_maps_openai_tool_choice_before_claude_checks_it(emulator):
    """§1.4 mapping: tool_choice "required" reaches Claude as {"type": "any"}: forced tool use."""
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    body = chat("claude-sonnet-4-5", thinking=thinking(2048), tools=tools, tool_choice="required")
    bad = await post(emulator.url, LITELLM, body)
    assert bad.status == 400
    assert "Thinking may not be enabled when tool_choice forces tool use." in bad.json()["error"]["message"]
    assert (await post(emulator.url, LITELLM, {**body, "tool_choice": "auto"})).status == 200


async def test_unknown_models_and_responses_only_models(emulator):
    missing = await post(emulator.url, CHAT, chat("gpt-9-ultra"))
    assert missing.status == 404
    assert missing.json()["error"]["code"] == "model_not_found"
    responses_only = await post(emulator.url, CHAT, chat("o3-pro"))  # §1.1
    assert responses_only.status == 404
    assert "only supported in v1/responses" in responses_only.json()["error"]["message"]
    anthropic = await post(emulator.url, MESSAGES, claude("claude-9"))
    assert anthropic.status == 404
    assert anthropic.json() == {
        "type": "error",
        "error": {"type": "not_found_error", "message": "model: claude-9"},
    }
    deepseek = await post(emulator.url, DEEPSEEK, chat("deepseek-v9"))
    assert deepseek.status == 400
    assert deepseek.json()["error"]["message"] == "Model Not Exist"


async def test_unrecognized_openai_argument_is_refused_by_name(emulator):
    """An Anthropic field sent to OpenAI fails there (why the sidecar must translate, not forward)."""
    answer = await post(emulator.url, CHAT, chat("o4-mini", thinking=thinking(1024)))
    assert answer.status == 400
    assert answer.json()["error"]["message"] == "Unrecognized request argument supplied: thinking"
