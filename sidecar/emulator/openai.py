"""Chat Completions as OpenAI and Azure OpenAI answer it, and the machinery every
chat-completions flavour (DeepSeek, LiteLLM proxy, vLLM in `compat.py`) shares.

A flavour says who may call (auth), how errors look, and how a body becomes a `ChatPlan` (or the
provider's rejection). Answering a plan, as JSON or as a chunk stream, is common to all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from aiohttp import web

from sidecar.emulator.content import CREATED, TOOL_INPUT_PIECES, Reply, reply_for
from sidecar.emulator.errors import ProviderError, azure_error_body, openai_error_body
from sidecar.emulator.models import OPENAI_MODELS, openai_model
from sidecar.emulator.rules import check_openai_chat
from sidecar.emulator.settings import CONFIG, Tuning
from sidecar.emulator.sse import DONE, data_event, write_events

__all__ = [
    "AZURE",
    "AZURE_V1",
    "OPENAI",
    "ChatFlavour",
    "ChatPlan",
    "Handler",
    "chat_chunks",
    "chat_completion",
    "chat_handler",
    "error_response",
    "models_handler",
    "parse_json",
]

ErrorShape = Callable[[ProviderError], dict[str, Any]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """How to answer one accepted chat-completions request."""

    model: str  # echoed in the response
    # Where visible reasoning goes: DeepSeek / LiteLLM `reasoning_content`, vLLM `reasoning`.
    reasoning: Literal["reasoning_content", "reasoning"] | None = None
    thinking_blocks: bool = False  # LiteLLM in front of Claude also returns signed thinking blocks
    hidden_reasoning: bool = False  # OpenAI reasoning models: reasoning tokens counted, not shown
    azure: bool = False  # Azure's content-filter annotations


@dataclass(frozen=True, slots=True)
class ChatFlavour:
    """One chat-completions server: its credential check, error shape and validation."""

    name: str
    auth: Callable[[web.Request], ProviderError | None]
    error_shape: ErrorShape
    plan: Callable[[web.Request, dict[str, Any]], ChatPlan | ProviderError]


def error_response(err: ProviderError, shape: ErrorShape) -> web.Response:
    return web.Response(status=err.status, body=orjson.dumps(shape(err)), content_type="application/json")


def parse_json(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


_BAD_JSON = ProviderError(
    "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your "
    "HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. "
    "If you have trouble figuring out how to fix this, please contact us through our help center at "
    "help.openai.com.)"
)


def chat_handler(flavour: ChatFlavour) -> Handler:
    """The aiohttp handler for one flavour's chat-completions endpoint."""

    async def handle(request: web.Request) -> web.StreamResponse:
        config = request.app[CONFIG]
        raw = await request.read()
        if config.require_auth and (err := flavour.auth(request)) is not None:
            return error_response(err, flavour.error_shape)
        body = parse_json(raw)
        if body is None:
            return error_response(_BAD_JSON, flavour.error_shape)
        plan = flavour.plan(request, body)
        if isinstance(plan, ProviderError):
            return error_response(plan, flavour.error_shape)
        tuning = Tuning.of(request, config)
        reply = reply_for(raw, tuning.events, plan.reasoning is not None, forced_tool(body))
        if body.get("stream") is True:
            options = body.get("stream_options")
            usage = isinstance(options, dict) and options.get("include_usage") is True
            return await write_events(request, chat_chunks(plan, reply, usage), tuning.delay)
        return web.Response(body=orjson.dumps(chat_completion(plan, reply)), content_type="application/json")

    return handle


# --- answers ---------------------------------------------------------------------------------------


def forced_tool(body: dict[str, Any]) -> str | None:
    """The function `tool_choice` forces ("required": the first tool), else None."""
    choice, tools = body.get("tool_choice"), body.get("tools")
    if choice == "required" and isinstance(tools, list) and tools and isinstance(tools[0], dict):
        name = (tools[0].get("function") or {}).get("name")
        return name if isinstance(name, str) else None
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        return name if isinstance(name, str) else None
    return None


def _tool_call(reply: Reply) -> dict[str, Any]:
    arguments = "".join(TOOL_INPUT_PIECES)
    return {
        "id": reply.id("call_"),
        "type": "function",
        "function": {"name": reply.tool, "arguments": arguments},
    }


def _usage(plan: ChatPlan, reply: Reply) -> dict[str, Any]:
    reasoning = reply.output_tokens if plan.hidden_reasoning else reply.reasoning_tokens
    completion = reply.output_tokens + reasoning
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": completion,
        "total_tokens": reply.input_tokens + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def _thinking_block(reply: Reply, thinking: str) -> dict[str, Any]:
    return {"type": "thinking", "thinking": thinking, "signature": reply.signature}


def chat_completion(plan: ChatPlan, reply: Reply) -> dict[str, Any]:
    """The non-streaming `chat.completion` object."""
    message: dict[str, Any] = {"role": "assistant", "content": "".join(reply.text), "refusal": None}
    if plan.reasoning is not None:
        message[plan.reasoning] = "".join(reply.thinking)
        if plan.thinking_blocks:
            message["thinking_blocks"] = [_thinking_block(reply, "".join(reply.thinking))]
    if reply.tool is not None:
        message["content"] = None
        message["tool_calls"] = [_tool_call(reply)]
    finish = "stop" if reply.tool is None else "tool_calls"
    choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
    out: dict[str, Any] = {
        "id": reply.id("chatcmpl-"),
        "object": "chat.completion",
        "created": CREATED,
        "model": plan.model,
        "choices": [choice],
        "usage": _usage(plan, reply),
        "system_fingerprint": "fp_emulator",
    }
    if plan.azure:
        choice["content_filter_results"] = {}
        out["prompt_filter_results"] = [{"prompt_index": 0, "content_filter_results": {}}]
    return out


def chat_chunks(plan: ChatPlan, reply: Reply, include_usage: bool) -> Iterator[bytes]:
    """The `chat.completion.chunk` stream: role, reasoning deltas, content deltas, finish, [usage],
    `data: [DONE]` (§1.1 streaming; DeepSeek `reasoning_content` deltas §1.7)."""
    if plan.azure:
        # Azure opens with the prompt's content-filter verdict in an otherwise empty chunk.
        yield data_event(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}],
            }
        )
    head = {
        "id": reply.id("chatcmpl-"),
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": plan.model,
        "system_fingerprint": "fp_emulator",
    }
    extra = {"usage": None} if include_usage else {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return data_event({**head, "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": "", "refusal": None})
    if plan.reasoning is not None:
        for piece in reply.thinking:
            delta: dict[str, Any] = {"content": None, plan.reasoning: piece}
            if plan.thinking_blocks:
                delta["thinking_blocks"] = [{"type": "thinking", "thinking": piece}]
            yield chunk(delta)
        if plan.thinking_blocks:
            yield chunk({"content": None, "thinking_blocks": [_thinking_block(reply, "")]})
    if reply.tool is not None:
        call = _tool_call(reply)
        call["function"]["arguments"] = ""
        yield chunk({"tool_calls": [{"index": 0, **call}]})
        for piece in TOOL_INPUT_PIECES:
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
        yield chunk({}, "tool_calls")
    else:
        for piece in reply.text:
            yield chunk({"content": piece})
        yield chunk({}, "stop")
    if include_usage:
        yield data_event({**head, "choices": [], "usage": _usage(plan, reply)})
    yield DONE


# --- OpenAI ----------------------------------------------------------------------------------------


def _bearer(request: web.Request) -> bool:
    return request.headers.get("Authorization", "").startswith("Bearer ")


def _openai_auth(request: web.Request) -> ProviderError | None:
    if _bearer(request):
        return None
    return ProviderError(
        "You didn't provide an API key. You need to provide your API key in an Authorization header using "
        "Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) "
        "if you're accessing the API from your browser and are prompted for a username. You can obtain an "
        "API key from https://platform.openai.com/account/api-keys.",
        status=401,
    )


def _openai_checked(name: Any, body: dict[str, Any], azure: bool = False) -> ChatPlan | ProviderError:
    model = openai_model(name) if isinstance(name, str) else None
    if model is None:
        if name is None:
            return ProviderError("you must provide a model parameter")
        return ProviderError(
            f"The model `{name}` does not exist or you do not have access to it.",
            code="model_not_found",
            status=404,
        )
    if not model.chat_completions:
        # §1.1 / §1.2: Responses-API-only models.
        return ProviderError(
            "This model is only supported in v1/responses and not in v1/chat/completions.", status=404
        )
    err = check_openai_chat(body, model)
    if err is not None:
        return err
    return ChatPlan(model=str(name), hidden_reasoning=model.efforts is not None, azure=azure)


def _openai_plan(request: web.Request, body: dict[str, Any]) -> ChatPlan | ProviderError:
    return _openai_checked(body.get("model"), body)


OPENAI = ChatFlavour(name="openai", auth=_openai_auth, error_shape=openai_error_body, plan=_openai_plan)


async def models_handler(request: web.Request) -> web.Response:
    """`GET /v1/models`: the models the emulator knows, in OpenAI's list shape."""
    data = [
        {"id": name, "object": "model", "created": CREATED, "owned_by": "system"}
        for name, m in OPENAI_MODELS.items()
        if m.chat_completions
    ]
    return web.Response(body=orjson.dumps({"object": "list", "data": data}), content_type="application/json")


# --- Azure OpenAI (§1.3) ---------------------------------------------------------------------------


def _azure_auth(request: web.Request) -> ProviderError | None:
    if request.headers.get("api-key") or _bearer(request):
        return None
    return ProviderError(
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
        "key for an active subscription and use a correct regional API endpoint for your resource.",
        code="401",
        status=401,
        type="azure_resource_error",
    )


def _deployment_plan(request: web.Request, deployment: Any, body: dict[str, Any]) -> ChatPlan | ProviderError:
    """A deployment serves the model the configured map names, or the model it is named after."""
    model = (
        request.app[CONFIG].deployments.get(deployment, deployment) if isinstance(deployment, str) else None
    )
    if model is None or openai_model(model) is None:
        return ProviderError(
            "The API deployment for this resource does not exist. If you created the deployment within the "
            "last 5 minutes, please wait a moment and try again.",
            code="DeploymentNotFound",
            status=404,
            type="azure_resource_error",
        )
    return _openai_checked(model, body, azure=True)


def _azure_plan(request: web.Request, body: dict[str, Any]) -> ChatPlan | ProviderError:
    """Dated API: the deployment is in the path, `api-version` is required, and the body's
    `model`, if any, is ignored as Azure ignores it."""
    if not request.query.get("api-version"):
        return ProviderError("Resource not found", code="404", status=404, type="azure_resource_error")
    return _deployment_plan(request, request.match_info["deployment"], body)


def _azure_v1_plan(request: web.Request, body: dict[str, Any]) -> ChatPlan | ProviderError:
    """The "v1 API" (`{endpoint}/openai/v1/`, the plain OpenAI client): `model` is the deployment."""
    return _deployment_plan(request, body.get("model"), body)


AZURE = ChatFlavour(name="azure", auth=_azure_auth, error_shape=azure_error_body, plan=_azure_plan)
AZURE_V1 = ChatFlavour(name="azure-v1", auth=_azure_auth, error_shape=azure_error_body, plan=_azure_v1_plan)
