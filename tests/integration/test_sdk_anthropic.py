"""The official `anthropic` SDK, unchanged except for the base URL, against sidecar -> strict
emulator: messages, streaming, and extended thinking with signed thinking blocks (§1.4).

Models are ones the SDK does not flag as deprecated (it warns, and warnings fail this suite).
Recent SDK releases dropped the sampling keyword arguments (Claude 4.7 deprecates them), so an app
that still sends `temperature` does it through `extra_body`: on the wire it is the same field."""

from __future__ import annotations

import asyncio

import anthropic
import pytest

HI = [{"role": "user", "content": "hi"}]
ANSWER = "Hello from the llm-sidecar"
THOUGHT = "Let me think about"


def base(stack_url: str) -> str:
    return stack_url + "/anthropic"


async def test_messages_passthrough(stack):
    client = anthropic.Anthropic(base_url=base(stack.url), api_key="sk-ant-test", max_retries=0)
    message = await asyncio.to_thread(
        client.messages.create,
        model="claude-haiku-4-5-20251001",
        max_tokens=100,
        messages=HI,
        extra_body={"temperature": 0.4},
    )
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    got = stack.emulator.last()
    assert (got.path, got.status) == ("/v1/messages", 200)  # the /anthropic prefix was stripped
    assert got.json() == {
        "max_tokens": 100,
        "messages": HI,
        "model": "claude-haiku-4-5-20251001",
        "temperature": 0.4,
    }
    # The credential crossed the sidecar (x-api-key or, in newer SDKs, a bearer token).
    assert "<redacted>" in (got.header("x-api-key"), got.header("Authorization"))
    assert got.header("anthropic-version") is not None


async def test_stream_every_event_in_order(stack):
    client = anthropic.AsyncAnthropic(base_url=base(stack.url), api_key="sk-ant-test", max_retries=0)
    async with client.messages.stream(model="claude-haiku-4-5", max_tokens=50, messages=HI) as stream:
        events = [event async for event in stream]
        final = await stream.get_final_message()
    raw = [e.type for e in events if e.type not in ("text",)]  # `text` is the SDK's own convenience event
    assert raw == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * 4,
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert [e.text for e in events if e.type == "text"] == ["Hello", " from", " the", " llm-sidecar"]
    assert final.content[0].text == ANSWER  # type: ignore[union-attr]
    await client.close()


async def test_thinking_json_and_stream(stack):
    client = anthropic.AsyncAnthropic(base_url=base(stack.url), api_key="sk-ant-test", max_retries=0)
    thinking = {"type": "enabled", "budget_tokens": 1024}
    message = await client.messages.create(
        model="claude-opus-4-1-20250805", max_tokens=4096, messages=HI, thinking=thinking
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking == THOUGHT  # type: ignore[union-attr]
    assert message.content[0].signature.startswith("EmuSig")  # type: ignore[union-attr]
    assert stack.emulator.last().json()["thinking"] == thinking

    async with client.messages.stream(
        model="claude-opus-4-5", max_tokens=4096, messages=HI, thinking=thinking
    ) as stream:
        deltas = [e.delta.type async for e in stream if e.type == "content_block_delta"]
        final = await stream.get_final_message()
    assert deltas == ["thinking_delta"] * 4 + ["signature_delta"] + ["text_delta"] * 4
    assert final.content[0].type == "thinking" and final.content[0].signature  # type: ignore[union-attr]
    assert final.content[1].text == ANSWER  # type: ignore[union-attr]
    await client.close()


async def test_adaptive_thinking_on_claude_4_6(stack):
    client = anthropic.AsyncAnthropic(base_url=base(stack.url), api_key="sk-ant-test", max_retries=0)
    message = await client.messages.create(
        model="claude-opus-4-6",
        max_tokens=2048,
        messages=HI,
        thinking={"type": "adaptive"},
        extra_body={"output_config": {"effort": "max"}},
    )
    assert message.content[0].type == "thinking"
    assert stack.emulator.last().json()["output_config"] == {"effort": "max"}
    await client.close()


async def test_sdk_parses_the_emulators_errors_like_the_providers(emulator):
    """Straight to the emulator: the SDK raises BadRequestError with Anthropic's message (§1.4)."""
    client = anthropic.AsyncAnthropic(base_url=emulator.url, api_key="sk-ant-test", max_retries=0)
    with pytest.raises(anthropic.BadRequestError) as caught:
        await client.messages.create(
            model="claude-haiku-4-5",
            max_tokens=4096,
            messages=HI,
            thinking={"type": "enabled", "budget_tokens": 512},
        )
    assert caught.value.body == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024",
        },
    }
    await client.close()


# --- legacy calls the rewrite engine makes acceptable (issue 3 rules, §1.4) --------------------------


async def test_temperature_to_claude_opus_4_7_stream_succeeds(stack):
    """§1.4 Opus 4.7 refuses `temperature`; through the sidecar the stream arrives whole."""
    client = anthropic.AsyncAnthropic(base_url=base(stack.url), api_key="sk-ant-test", max_retries=0)
    async with client.messages.stream(
        model="claude-opus-4-7", max_tokens=256, messages=HI, extra_body={"temperature": 0.3}
    ) as stream:
        events = [e.type async for e in stream if e.type != "text"]
        final = await stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert events.count("content_block_delta") == 4
    assert final.content[0].text == ANSWER  # type: ignore[union-attr]
    assert "temperature" not in stack.emulator.last().json()
    await client.close()


async def test_temperature_and_top_p_to_claude_4_5_keeps_one(stack):
    """§1.4 Claude 4.5+: never both."""
    client = anthropic.AsyncAnthropic(base_url=base(stack.url), api_key="sk-ant-test", max_retries=0)
    message = await client.messages.create(
        model="claude-haiku-4-5", max_tokens=64, messages=HI, extra_body={"temperature": 0.5, "top_p": 0.9}
    )
    assert message.content[0].text == ANSWER  # type: ignore[union-attr]
    got = stack.emulator.last().json()
    assert got["temperature"] == 0.5 and "top_p" not in got
    await client.close()


async def test_forced_tool_use_stream(stack):
    client = anthropic.AsyncAnthropic(base_url=base(stack.url), api_key="sk-ant-test", max_retries=0)
    tools = [{"name": "lookup", "description": "find", "input_schema": {"type": "object"}}]
    async with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=256,
        messages=HI,
        tools=tools,
        tool_choice={"type": "tool", "name": "lookup"},
    ) as stream:
        final = await stream.get_final_message()
    assert final.stop_reason == "tool_use"
    (block,) = final.content
    assert block.type == "tool_use" and block.name == "lookup"  # type: ignore[union-attr]
    assert block.input == {"query": "emulated"}  # type: ignore[union-attr]
    await client.close()
