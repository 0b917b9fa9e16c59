"""The Anthropic Messages API (`POST /v1/messages`): validation, JSON answers and the SSE event
sequence `message_start` ... `message_stop`, with signed thinking blocks when thinking is on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from sidecar.emulator.content import TOOL_INPUT, TOOL_INPUT_PIECES, Reply, reply_for
from sidecar.emulator.errors import ProviderError, anthropic_error_body
from sidecar.emulator.models import claude_model
from sidecar.emulator.openai import error_response, parse_json
from sidecar.emulator.rules import check_anthropic_messages, thinking_enabled
from sidecar.emulator.settings import CONFIG, Tuning
from sidecar.emulator.sse import named_event, write_events

__all__ = ["message_events", "message_json", "messages_handler"]


def _auth(request: web.Request) -> ProviderError | None:
    if request.headers.get("x-api-key") or request.headers.get("Authorization", "").startswith("Bearer "):
        if not request.headers.get("anthropic-version"):
            return ProviderError("anthropic-version: header is required")
        return None
    return ProviderError("x-api-key header is required", status=401, type="authentication_error")


def _validate(request: web.Request, body: dict[str, Any]) -> ProviderError | str:
    """The model name to answer as, or the API's rejection."""
    name = body.get("model")
    model = claude_model(name) if isinstance(name, str) else None
    if model is None and name is not None:
        return ProviderError(f"model: {name}", status=404, type="not_found_error")
    if model is None:
        return ProviderError("model: Field required")
    err = check_anthropic_messages(body, model, request.headers.get("anthropic-beta", ""))
    return err if err is not None else str(name)


async def messages_handler(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    raw = await request.read()
    if config.require_auth and (err := _auth(request)) is not None:
        return error_response(err, anthropic_error_body)
    body = parse_json(raw)
    if body is None:
        return error_response(
            ProviderError("There was an error parsing the body of your request."), anthropic_error_body
        )
    checked = _validate(request, body)
    if isinstance(checked, ProviderError):
        return error_response(checked, anthropic_error_body)
    tuning = Tuning.of(request, config)
    reply = reply_for(raw, tuning.events, thinking_enabled(body), forced_tool(body))
    if body.get("stream") is True:
        return await write_events(request, message_events(checked, reply), tuning.delay)
    return web.Response(body=orjson.dumps(message_json(checked, reply)), content_type="application/json")


def forced_tool(body: dict[str, Any]) -> str | None:
    """The tool `tool_choice` forces (`any`: the first tool), else None."""
    choice, tools = body.get("tool_choice"), body.get("tools")
    if not isinstance(choice, dict):
        return None
    if choice.get("type") == "tool" and isinstance(choice.get("name"), str):
        return str(choice["name"])
    if choice.get("type") == "any" and isinstance(tools, list) and tools and isinstance(tools[0], dict):
        name = tools[0].get("name")
        return name if isinstance(name, str) else None
    return None


def _stop_reason(reply: Reply) -> str:
    return "end_turn" if reply.tool is None else "tool_use"


def _usage(reply: Reply, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": reply.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _message(model: str, reply: Reply, content: list[dict[str, Any]], done: bool) -> dict[str, Any]:
    output = reply.output_tokens + reply.reasoning_tokens
    return {
        "id": reply.id("msg_emu"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": _stop_reason(reply) if done else None,
        "stop_sequence": None,
        "usage": _usage(reply, output if done else 1),
    }


def message_json(model: str, reply: Reply) -> dict[str, Any]:
    """The non-streaming message: a thinking block first when thinking was requested."""
    content: list[dict[str, Any]] = []
    if reply.thinking:
        content.append(
            {"type": "thinking", "thinking": "".join(reply.thinking), "signature": reply.signature}
        )
    if reply.tool is not None:
        content.append(
            {"type": "tool_use", "id": reply.id("toolu_"), "name": reply.tool, "input": TOOL_INPUT}
        )
    else:
        content.append({"type": "text", "text": "".join(reply.text)})
    return _message(model, reply, content, done=True)


def message_events(model: str, reply: Reply) -> Iterator[bytes]:
    """The SSE sequence of the Messages API, one block after another, ping after the first start."""
    yield named_event({"type": "message_start", "message": _message(model, reply, [], done=False)})
    index = 0
    if reply.thinking:
        yield named_event(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""},
            }
        )
        yield named_event({"type": "ping"})
        for piece in reply.thinking:
            delta = {"type": "thinking_delta", "thinking": piece}
            yield named_event({"type": "content_block_delta", "index": index, "delta": delta})
        delta = {"type": "signature_delta", "signature": reply.signature}
        yield named_event({"type": "content_block_delta", "index": index, "delta": delta})
        yield named_event({"type": "content_block_stop", "index": index})
        index += 1
    if reply.tool is not None:
        block: dict[str, Any] = {
            "type": "tool_use",
            "id": reply.id("toolu_"),
            "name": reply.tool,
            "input": {},
        }
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in TOOL_INPUT_PIECES]
    else:
        block = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in reply.text]
    yield named_event({"type": "content_block_start", "index": index, "content_block": block})
    if index == 0:
        yield named_event({"type": "ping"})
    for delta in deltas:
        yield named_event({"type": "content_block_delta", "index": index, "delta": delta})
    yield named_event({"type": "content_block_stop", "index": index})
    yield named_event(
        {
            "type": "message_delta",
            "delta": {"stop_reason": _stop_reason(reply), "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens + reply.reasoning_tokens},
        }
    )
    yield named_event({"type": "message_stop"})
