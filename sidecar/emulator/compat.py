"""OpenAI-compatible servers that are not OpenAI: DeepSeek, a LiteLLM proxy in front of Claude,
and vLLM. Same wire format, different rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

from sidecar.emulator.errors import ProviderError, anthropic_error_body, litellm_error_body, openai_error_body
from sidecar.emulator.models import DEEPSEEK_MODELS, claude_model
from sidecar.emulator.openai import ChatFlavour, ChatPlan
from sidecar.emulator.rules import (
    check_deepseek,
    check_deepseek_thinking_mode,
    check_thinking,
    deepseek_thinks,
    thinking_enabled,
)

__all__ = ["DEEPSEEK", "DEEPSEEK_THINKING", "LITELLM", "VLLM"]


def _bearer_required(message: str) -> Callable[[web.Request], ProviderError | None]:
    def auth(request: web.Request) -> ProviderError | None:
        if request.headers.get("Authorization", "").startswith("Bearer "):
            return None
        return ProviderError(message, status=401, type="authentication_error")

    return auth


# --- DeepSeek (§1.7) -------------------------------------------------------------------------------


def _deepseek_plan(request: web.Request, body: dict[str, Any]) -> ChatPlan | ProviderError:
    name = body.get("model")
    reasoner = DEEPSEEK_MODELS.get(name) if isinstance(name, str) else None
    if reasoner is None:
        return ProviderError("Model Not Exist", code="invalid_request_error")
    err = check_deepseek(body, reasoner)
    if err is not None:
        return err
    return ChatPlan(model=str(name), reasoning="reasoning_content" if reasoner else None)


_DEEPSEEK_AUTH = _bearer_required("Authentication Fails, Your api key: ****None is invalid")
DEEPSEEK = ChatFlavour(
    name="deepseek", auth=_DEEPSEEK_AUTH, error_shape=openai_error_body, plan=_deepseek_plan
)


def _deepseek_thinking_plan(request: web.Request, body: dict[str, Any]) -> ChatPlan | ProviderError:
    """The thinking-mode generation: `reasoning_content` in the history is fine, and required on
    the assistant turns that called tools since the last user message (§1.7 [NEWER])."""
    name = body.get("model")
    if not isinstance(name, str) or name not in DEEPSEEK_MODELS:
        return ProviderError("Model Not Exist", code="invalid_request_error")
    err = check_deepseek_thinking_mode(body)
    if err is not None:
        return err
    return ChatPlan(model=name, reasoning="reasoning_content" if deepseek_thinks(body) else None)


DEEPSEEK_THINKING = ChatFlavour(
    name="deepseek-thinking", auth=_DEEPSEEK_AUTH, error_shape=openai_error_body, plan=_deepseek_thinking_plan
)


# --- LiteLLM proxy in front of Claude (§1.12, issue 4's seed case) -----------------------------------


def _anthropic_tool_choice(choice: Any) -> Any:
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "tool", "name": (choice.get("function") or {}).get("name")}
    return choice


def _litellm_plan(request: web.Request, body: dict[str, Any]) -> ChatPlan | ProviderError:
    """A LiteLLM proxy routing `anthropic.claude-*` / `claude-*` names to Claude. It takes the
    Anthropic `thinking` object inside a chat-completions body and forwards it to Claude, whose
    rules then apply; `reasoning_effort` is refused by LiteLLM itself for these models."""
    name = body.get("model")
    model = claude_model(name, bedrock_ids=True) if isinstance(name, str) else None
    if model is None:
        return ChatPlan(model=str(name))  # other models behind the proxy: not emulated, accepted
    provider = "bedrock" if isinstance(name, str) and "anthropic." in name else "anthropic"
    if "reasoning_effort" in body:
        # The UnsupportedParamsError text of litellm.utils (§1.12).
        params = ["reasoning_effort"]
        return ProviderError(
            f"litellm.UnsupportedParamsError: {provider} does not support parameters: {params}, "
            f"for model={name}. To drop these, set `litellm.drop_params=True` or for proxy:\n\n"
            "`litellm_settings:\n drop_params: true`\n. \n If you want to use these params dynamically "
            f"send allowed_openai_params={params} in your request.",
            type="None",
        )
    # What Claude receives from LiteLLM (§1.4 "OpenAI -> Anthropic param mapping"): max_tokens from
    # either name (when both are absent LiteLLM fills in budget + DEFAULT_MAX_TOKENS, §2.1, so no
    # budget conflict can arise), and tool_choice "required" / a named function as any / tool.
    checked = {
        **body,
        "max_tokens": body.get("max_tokens", body.get("max_completion_tokens")),
        "tool_choice": _anthropic_tool_choice(body.get("tool_choice")),
    }
    err = check_thinking(checked, model)
    if err is not None:
        # Claude's 400 relayed by LiteLLM, wrapped in its exception text.
        upstream = orjson.dumps(anthropic_error_body(err)).decode()
        exception = "BedrockException" if provider == "bedrock" else "AnthropicException"
        return ProviderError(f"litellm.BadRequestError: {exception} - {upstream}", type="None")
    thinking = thinking_enabled(body)
    return ChatPlan(
        model=str(name), reasoning="reasoning_content" if thinking else None, thinking_blocks=thinking
    )


LITELLM = ChatFlavour(
    name="litellm",
    auth=_bearer_required("Authentication Error, No api key passed in."),
    error_shape=litellm_error_body,
    plan=_litellm_plan,
)


# --- vLLM (§1.8) -----------------------------------------------------------------------------------


def _vllm_plan(request: web.Request, body: dict[str, Any]) -> ChatPlan | ProviderError:
    """vLLM ignores unknown top-level fields (after PR #10463). Qwen3 thinks unless
    `chat_template_kwargs.enable_thinking` is false, and returns it as `reasoning`."""
    name = body.get("model")
    if not isinstance(name, str):
        return ProviderError("[{'type': 'missing', 'loc': ('body', 'model'), 'msg': 'Field required'}]")
    kwargs = body.get("chat_template_kwargs")
    thinks = "qwen3" in name.lower() and not (
        isinstance(kwargs, dict) and kwargs.get("enable_thinking") is False
    )
    return ChatPlan(model=name, reasoning="reasoning" if thinks else None)


VLLM = ChatFlavour(name="vllm", auth=lambda request: None, error_shape=openai_error_body, plan=_vllm_plan)
