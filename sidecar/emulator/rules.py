"""What each provider rejects, as pure checks: body in, `ProviderError` (or None) out.

Messages are the providers' real texts from `provider-rules.md` (section cited at each check).
Where the reference records a rejection but not its wording, the message is marked APPROXIMATE:
the status and shape are right, the text is our best reading, and tests do not pin it as exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from sidecar.emulator.errors import ProviderError
from sidecar.emulator.models import ClaudeModel, OpenAIModel

__all__ = [
    "ANTHROPIC_PARAMS",
    "OPENAI_CHAT_PARAMS",
    "check_anthropic_messages",
    "check_deepseek",
    "check_deepseek_thinking_mode",
    "check_openai_chat",
    "check_thinking",
    "thinking_enabled",
]

# Every top-level field the Chat Completions API knows; anything else is refused by name.
OPENAI_CHAT_PARAMS = frozenset(
    {
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "n",
        "stream", "stream_options", "stop", "presence_penalty", "frequency_penalty", "logit_bias",
        "logprobs", "top_logprobs", "user", "seed", "tools", "tool_choice", "parallel_tool_calls",
        "functions", "function_call", "response_format", "reasoning_effort", "service_tier", "store",
        "metadata", "modalities", "audio", "prediction", "web_search_options", "verbosity",
        "safety_identifier", "prompt_cache_key", "prompt_cache_retention",
    }
)  # fmt: skip

# Every top-level field the Messages API knows (its validator forbids extra inputs).
ANTHROPIC_PARAMS = frozenset(
    {
        "model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
        "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier",
        "container", "mcp_servers", "output_config", "output_format", "context_management",
        "cache_control", "diagnostics", "inference_geo", "speed", "user_profile_id", "workspace_id",
    }
)  # fmt: skip


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _choices(values: tuple[str, ...] | list[str]) -> str:
    """`'a', 'b', and 'c'`: OpenAI's way of listing supported values (§1.2)."""
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _unsupported_parameter(name: str) -> ProviderError:
    # §1.1 (top_p on o4-mini, parallel_tool_calls), §1.2 (top_p on gpt-5).
    return ProviderError(
        f"Unsupported parameter: '{name}' is not supported with this model.",
        param=name,
        code="unsupported_parameter",
    )


# --- OpenAI Chat Completions (also Azure, which answers in the same shape: §1.3) -------------------


def check_openai_chat(body: Mapping[str, Any], model: OpenAIModel) -> ProviderError | None:
    """The first thing OpenAI would refuse in `body` for `model`, in the body's key order."""
    if "messages" not in body:
        return ProviderError(
            "Missing required parameter: 'messages'.", param="messages", code="missing_required_parameter"
        )
    if body.get("stream_options") is not None and not body.get("stream"):
        return ProviderError(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            param="stream_options",
            code="invalid_value",
        )
    effort = body.get("reasoning_effort", model.default_effort)
    for key, value in body.items():
        if key not in OPENAI_CHAT_PARAMS:
            return ProviderError(f"Unrecognized request argument supplied: {key}")
        err = _check_openai_param(key, value, model, effort)
        if err is not None:
            return err
    return _check_roles(body.get("messages"), model)


def _check_openai_param(key: str, value: Any, model: OpenAIModel, effort: Any) -> ProviderError | None:
    if key == "max_tokens" and not model.max_tokens:
        # §1.1: every o-series model; §1.2: gpt-5 reasoning models.
        return ProviderError(
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead.",
            param="max_tokens",
            code="unsupported_parameter",
        )
    if key == "temperature":
        return _check_temperature(value, model, effort)
    if key in model.rejected:
        return _unsupported_parameter(key)
    if model.sampling_needs_no_effort and key in ("top_p", "logprobs", "top_logprobs") and effort != "none":
        # §1.2: gpt-5.1+ accept these only when reasoning_effort is "none".
        return _unsupported_parameter(key)
    if key == "reasoning_effort":
        return _check_effort(value, model)
    return None


def _check_temperature(value: Any, model: OpenAIModel, effort: Any) -> ProviderError | None:
    if model.sampling_needs_no_effort:
        # §1.2: gpt-5.1 takes any temperature at effort "none"; gpt-5.2 observed refusing the key.
        return None if effort == "none" else _unsupported_parameter("temperature")
    if model.temperature == "any" or value == 1:
        return None
    if model.temperature == "key":
        return _unsupported_parameter("temperature")  # §1.1 o3-mini wording
    # §1.1 (o1-mini, o4-mini), §1.2 (gpt-5, gpt-5-mini).
    return ProviderError(
        f"Unsupported value: 'temperature' does not support {_json(value)} with this model. "
        "Only the default (1) value is supported.",
        param="temperature",
        code="unsupported_value",
    )


def _check_effort(value: Any, model: OpenAIModel) -> ProviderError | None:
    if model.effort_unknown:
        # §1.1: o1-mini / o1-preview (observed on Azure o1-mini).
        return ProviderError(
            "Unknown parameter: 'reasoning_effort'.", param="reasoning_effort", code="unknown_parameter"
        )
    if model.efforts is None:
        return _unsupported_parameter("reasoning_effort")
    if value in model.efforts:
        return None
    # §1.2: gpt-5-mini refusing 'xhigh'; the same shape for every reasoning model.
    shown = value if isinstance(value, str) else _json(value)
    return ProviderError(
        f"Unsupported value: 'reasoning_effort' does not support '{shown}' with this model. "
        f"Supported values are: {_choices(model.efforts)}.",
        param="reasoning_effort",
        code="unsupported_value",
    )


def _check_roles(messages: Any, model: OpenAIModel) -> ProviderError | None:
    if model.system_role or not isinstance(messages, list):
        return None
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role in ("system", "developer"):
            # §1.1: o1-preview and o1-mini accept neither role.
            return ProviderError(
                f"Unsupported value: 'messages[{i}].role' does not support '{role}' with this model.",
                param=f"messages[{i}].role",
                code="unsupported_value",
            )
    return None


# --- Anthropic Messages (§1.4) -------------------------------------------------------------------

_DOCS_MAX_TOKENS = (
    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)
_DOCS_TEMPERATURE = (
    "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking"
    "#important-considerations-when-using-extended-thinking"
)
_INTERLEAVED_BETA = "interleaved-thinking-2025-05-14"


def check_anthropic_messages(
    body: Mapping[str, Any], model: ClaudeModel, beta: str = ""
) -> ProviderError | None:
    """The first thing the Messages API would refuse. `beta` is the `anthropic-beta` header."""
    for required in ("model", "messages", "max_tokens"):
        if required not in body:
            # The Messages API's schema error (max_tokens is required: §1.4 "General constraints").
            return ProviderError(f"{required}: Field required")
    for key in body:
        if key not in ANTHROPIC_PARAMS:
            return ProviderError(f"{key}: Extra inputs are not permitted")
    return check_thinking(body, model, beta) or _check_effort_config(body, model)


def thinking_enabled(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def check_thinking(body: Mapping[str, Any], model: ClaudeModel, beta: str = "") -> ProviderError | None:
    """Sampling and thinking constraints of one Claude model (§1.4); shared with the LiteLLM
    flavour, which forwards the same fields to Claude (§1.12)."""
    if model.sampling_removed:
        for key in ("temperature", "top_p", "top_k"):
            if key in body:
                # §1.4 Opus 4.7: the temperature text is real; top_p/top_k follow it (APPROXIMATE).
                return ProviderError(f"`{key}` is deprecated for this model.")
    thinking = body.get("thinking")
    if thinking is not None:
        err = _check_thinking_shape(thinking, model, body.get("max_tokens"), beta, bool(body.get("tools")))
        if err is not None:
            return err
    if thinking_enabled(body):
        err = _check_with_thinking(body)
        if err is not None:
            return err
    if model.sampling_conflict and "temperature" in body and "top_p" in body:
        # §1.4: Sonnet 4.5 / 4.6.
        return ProviderError(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one."
        )
    return None


def _check_thinking_shape(
    thinking: Any, model: ClaudeModel, max_tokens: Any, beta: str, has_tools: bool
) -> ProviderError | None:
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    tags = (
        "'disabled', 'enabled'"
        if model.thinking in ("none", "budget")
        else "'adaptive', 'disabled', 'enabled'"
    )
    if kind not in ("enabled", "adaptive", "disabled") or (
        kind == "adaptive" and model.thinking in ("none", "budget")
    ):
        # APPROXIMATE: the API's discriminated-union error for an unknown or unsupported tag.
        return ProviderError(
            f"thinking.type: Input tag '{kind}' found using 'type' does not match any of the "
            f"expected tags: {tags}"
        )
    if kind != "enabled":
        return None
    if model.thinking == "none":
        return ProviderError(f"'{model.name}' does not support thinking.")  # APPROXIMATE
    if model.thinking == "adaptive_only":
        # §1.4 Opus 4.7: the message starts with this text; the rest is APPROXIMATE.
        return ProviderError(
            '"thinking.type.enabled" is not supported for this model. '
            'Use "thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
        )
    budget = thinking.get("budget_tokens")
    if budget is None:
        return ProviderError("thinking.enabled.budget_tokens: Field required")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1024:
        # §1.4 "General constraints": budget_tokens >= 1024.
        return ProviderError("thinking.enabled.budget_tokens: Input should be greater than or equal to 1024")
    interleaved = model.interleaved_beta and has_tools and _INTERLEAVED_BETA in beta
    if isinstance(max_tokens, int) and budget >= max_tokens and not interleaved:
        # §1.4: budget_tokens < max_tokens, except interleaved thinking with tools.
        return ProviderError(
            "`max_tokens` must be greater than `thinking.budget_tokens`. "
            f"Please consult our documentation at {_DOCS_MAX_TOKENS}"
        )
    return None


def _check_with_thinking(body: Mapping[str, Any]) -> ProviderError | None:
    temperature = body.get("temperature")
    if temperature is not None and temperature != 1:
        # §1.4: temperature only 1 with thinking.
        return ProviderError(
            "`temperature` may only be set to 1 when thinking is enabled. "
            f"Please consult our documentation at {_DOCS_TEMPERATURE}"
        )
    if "top_k" in body:
        # §1.4 matrix ("with thinking: ... no top_k"); wording APPROXIMATE.
        return ProviderError("`top_k` may not be set when thinking is enabled.")
    tool_choice = body.get("tool_choice")
    if isinstance(tool_choice, dict) and tool_choice.get("type") in ("any", "tool"):
        # §1.4: forced tool use.
        return ProviderError("Thinking may not be enabled when tool_choice forces tool use.")
    return _check_thinking_history(body.get("messages"))


def _check_thinking_history(messages: Any) -> ProviderError | None:
    """§1.4: with thinking on, the final assistant turn that used tools must start with thinking."""
    if not isinstance(messages, list):
        return None
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        if not isinstance(content, list) or not any(
            isinstance(b, dict) and b.get("type") == "tool_use" for b in content
        ):
            return None
        first = content[0].get("type") if isinstance(content[0], dict) else None
        if first in ("thinking", "redacted_thinking"):
            return None
        return ProviderError(
            f"messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. "
            "When `thinking` is enabled, a final `assistant` message must start with a thinking block "
            "(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you "
            "include thinking blocks from previous turns. To avoid this requirement, disable `thinking`."
        )
    return None


def _check_effort_config(body: Mapping[str, Any], model: ClaudeModel) -> ProviderError | None:
    output_config = body.get("output_config")
    if not isinstance(output_config, dict) or "effort" not in output_config:
        return None
    effort = output_config["effort"]
    if effort in model.efforts:
        return None
    if not model.efforts:
        # §1.4: effort exists on Opus 4.5 and 4.6+ only; wording APPROXIMATE.
        return ProviderError("output_config.effort: effort is not supported by this model.")
    # §1.4 / §2.2: `max` on Opus 4.6 only, `xhigh` from Opus 4.7; wording APPROXIMATE.
    allowed = ", ".join(f"'{e}'" for e in sorted(model.efforts))
    return ProviderError(f"output_config.effort: Input should be one of {allowed}")


# --- DeepSeek (§1.7) -------------------------------------------------------------------------------


def _reasoner_messages(body: Mapping[str, Any]) -> ProviderError | list[Any]:
    """The logprobs refusal every thinking DeepSeek model gives, else the messages to check."""
    for key in ("logprobs", "top_logprobs"):
        if key in body:
            # §1.7: "logprobs, top_logprobs: error"; wording APPROXIMATE.
            return ProviderError(
                f"deepseek-reasoner does not support the parameter '{key}'.", code="invalid_request_error"
            )
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def check_deepseek(body: Mapping[str, Any], reasoner: bool) -> ProviderError | None:
    """deepseek-reasoner under the R1 rules: sampling is silently ignored, but logprobs,
    `reasoning_content` in the input and successive same-role turns are errors."""
    if not reasoner:
        return None
    messages = _reasoner_messages(body)
    if isinstance(messages, ProviderError):
        return messages
    previous: str | None = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        if role == "assistant" and "reasoning_content" in message:
            # §1.7 R1: reasoning_content in the input -> 400; wording APPROXIMATE (from the docs).
            return ProviderError(
                "The reasoning_content is an intermediate result for display purposes only and will not be "
                "included in the context for inference. Please remove the reasoning_content from your "
                f"message (messages[{i}]) to reduce network traffic.",
                code="invalid_request_error",
            )
        if role in ("user", "assistant") and role == previous:
            # §1.7 message order (exact text).
            return ProviderError(
                "deepseek-reasoner does not support successive user or assistant messages "
                f"(messages[{i - 1}] and messages[{i}] in your input). You should interleave the "
                "user/assistant messages in the message sequence.",
                code="invalid_request_error",
            )
        previous = role if role in ("user", "assistant") else previous
    return None


# DeepSeek's thinking mode (V3.1 / V3.2 / V4 docs, §1.7 [NEWER]): effort high/max (low/medium and
# xhigh are mapped by the API), and after a tool call the reasoning must come back.
DEEPSEEK_EFFORTS = frozenset({"low", "medium", "high", "xhigh", "max"})


def deepseek_thinks(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        return bool(thinking["type"] == "enabled")
    return body.get("model") == "deepseek-reasoner"


def check_deepseek_thinking_mode(body: Mapping[str, Any]) -> ProviderError | None:
    thinking = body.get("thinking")
    if thinking is not None and not (
        isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled")
    ):
        # APPROXIMATE wording.
        return ProviderError("thinking.type must be 'enabled' or 'disabled'.", code="invalid_request_error")
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in DEEPSEEK_EFFORTS:
        # APPROXIMATE wording.
        return ProviderError(f"Invalid reasoning_effort value: {effort!r}.", code="invalid_request_error")
    if not deepseek_thinks(body):
        return None
    messages = _reasoner_messages(body)
    if isinstance(messages, ProviderError):
        return messages
    last_user = max(
        (i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"), default=-1
    )
    for i in range(last_user + 1, len(messages)):
        message = messages[i]
        if (
            isinstance(message, dict)
            and message.get("role") == "assistant"
            and message.get("tool_calls")
            and "reasoning_content" not in message
        ):
            # §1.7: a tool call happened in this turn, so the reasoning must be passed back.
            return ProviderError(
                f"Missing 'reasoning_content' field in the assistant message at message index {i}.",
                code="invalid_request_error",
            )
    return None
