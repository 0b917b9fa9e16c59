"""The official `openai` SDK as a legacy app uses it, unchanged except for the base URL, against
sidecar -> strict emulator: sync and async, JSON and streaming, and `AzureOpenAI` with an
`api_version` and a deployment name that hides the model.

Sync clients run in a worker thread: the sidecar and the emulator share this test's event loop.
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.emulated import AZURE_QUERY

HI = [{"role": "user", "content": "hi"}]
ANSWER = "Hello from the llm-sidecar"  # the emulator's first four pieces (event_count=4)


def sync_client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key="sk-test", max_retries=0)


def async_client(base: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base + "/v1", api_key="sk-test", max_retries=0)


def azure_client(endpoint: str) -> openai.AsyncAzureOpenAI:
    """A deployment-based client, as apps on Azure's dated API versions use it (§1.3)."""
    return openai.AsyncAzureOpenAI(
        azure_endpoint=endpoint, api_version="2024-12-01-preview", api_key="azure-test", max_retries=0
    )


async def test_sync_chat_completion_passthrough(stack):
    client = sync_client(stack.url)
    completion = await asyncio.to_thread(
        client.chat.completions.create, model="gpt-4o", messages=HI, max_tokens=50, temperature=0.2
    )
    assert completion.choices[0].message.content == ANSWER
    assert completion.model == "gpt-4o"
    got = stack.emulator.last()
    assert (got.path, got.status) == ("/v1/chat/completions", 200)
    assert got.json() == {"messages": HI, "model": "gpt-4o", "max_tokens": 50, "temperature": 0.2}
    assert got.header("Authorization") == "<redacted>"  # the credential crossed the sidecar


async def test_sync_stream_every_chunk_in_order(stack):
    client = sync_client(stack.url)

    def run() -> list[openai.types.chat.ChatCompletionChunk]:
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=HI, stream=True, stream_options={"include_usage": True}
        )
        return list(stream)

    chunks = await asyncio.to_thread(run)
    # role, 4 content pieces, finish, usage: all of them, in the emulator's order.
    assert [c.choices[0].delta.content if c.choices else None for c in chunks] == [
        "", "Hello", " from", " the", " llm-sidecar", None, None,
    ]  # fmt: skip
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 4
    assert stack.emulator.last().json()["stream"] is True


async def test_async_chat_completion_and_stream(stack):
    client = async_client(stack.url)
    completion = await client.chat.completions.create(
        model="o4-mini", messages=HI, max_completion_tokens=200, reasoning_effort="low"
    )
    assert completion.choices[0].message.content == ANSWER
    assert completion.usage is not None and completion.usage.completion_tokens_details is not None
    assert completion.usage.completion_tokens_details.reasoning_tokens == 4
    assert stack.emulator.last().json()["reasoning_effort"] == "low"

    stream = await client.chat.completions.create(
        model="gpt-5-chat-latest", messages=HI, stream=True, temperature=0.3
    )
    pieces = [chunk.choices[0].delta.content async for chunk in stream]
    assert pieces == ["", "Hello", " from", " the", " llm-sidecar", None]
    await client.close()


async def test_azure_client_with_deployment_hiding_the_model(stack):
    client = azure_client(stack.url)
    completion = await client.chat.completions.create(
        model="team-chat", messages=HI, max_tokens=20, temperature=0.5
    )
    assert completion.choices[0].message.content == ANSWER
    assert completion.model == "gpt-4o"  # what the deployment serves
    got = stack.emulator.last()
    assert got.path == "/openai/deployments/team-chat/chat/completions"
    assert "?" + got.query == AZURE_QUERY
    assert got.header("api-key") == "<redacted>"
    assert got.json()["max_tokens"] == 20

    stream = await client.chat.completions.create(model="team-chat", messages=HI, stream=True)
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices == []  # Azure's prompt_filter_results chunk, passed through
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == ANSWER
    await client.close()


async def test_sdk_parses_the_emulators_errors_like_the_providers(emulator):
    """Straight to the emulator: the SDK surfaces the provider's code and param (§1.1)."""
    client = async_client(emulator.url)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="o4-mini", messages=HI, max_tokens=50)
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == "max_tokens"
    assert "Use 'max_completion_tokens' instead." in caught.value.message
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="gpt-9-ultra", messages=HI)
    await client.close()


# --- legacy calls the rewrite engine makes acceptable (issue 3 rules, §1.1-§1.3) -------------------


async def test_legacy_o4_mini_call_succeeds_through_the_sidecar(stack):
    """max_tokens + temperature + top_p + penalties to o4-mini: the upstream gets what §1.1 allows."""
    client = sync_client(stack.url)
    completion = await asyncio.to_thread(
        client.chat.completions.create,
        model="o4-mini",
        messages=HI,
        max_tokens=256,
        temperature=0.2,
        top_p=0.9,
        presence_penalty=0.1,
    )
    assert completion.choices[0].message.content == ANSWER
    assert stack.emulator.last().json() == {"messages": HI, "model": "o4-mini", "max_completion_tokens": 256}


async def test_legacy_gpt_5_mini_stream_succeeds_with_every_chunk_in_order(stack):
    client = async_client(stack.url)
    stream = await client.chat.completions.create(
        model="gpt-5-mini", messages=HI, max_tokens=100, temperature=0.7, stream=True
    )
    pieces = [chunk.choices[0].delta.content async for chunk in stream]
    assert pieces == ["", "Hello", " from", " the", " llm-sidecar", None]
    got = stack.emulator.last().json()
    assert got["max_completion_tokens"] == 100
    assert "max_tokens" not in got and "temperature" not in got  # §1.2: only the default (1)
    await client.close()


async def test_legacy_azure_call_to_a_deployment_hiding_o4_mini_succeeds(stack):
    """`prod-reasoner` says nothing about its model; the operator's alias maps it to o4-mini (§1.3)."""
    client = azure_client(stack.url)
    completion = await client.chat.completions.create(
        model="prod-reasoner", messages=HI, max_tokens=64, temperature=0.3
    )
    assert completion.choices[0].message.content == ANSWER
    got = stack.emulator.last()
    assert got.path == "/openai/deployments/prod-reasoner/chat/completions"
    assert got.json() == {"messages": HI, "model": "prod-reasoner", "max_completion_tokens": 64}
    await client.close()


async def test_azure_v1_api_with_the_plain_client_and_a_deployment_as_model(stack):
    """§1.3 "v1 API": base URL `{endpoint}/openai/v1/`, the standard client, model = deployment."""
    client = openai.AsyncOpenAI(base_url=stack.url + "/openai/v1", api_key="azure-test", max_retries=0)
    completion = await client.chat.completions.create(model="prod-reasoner", messages=HI, max_tokens=32)
    assert completion.choices[0].message.content == ANSWER
    assert completion.model == "o4-mini"
    got = stack.emulator.last()
    assert got.path == "/openai/v1/chat/completions"
    assert got.json() == {"messages": HI, "model": "prod-reasoner", "max_completion_tokens": 32}
    await client.close()


async def test_forced_tool_call_json_and_stream(stack):
    client = async_client(stack.url)
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    completion = await client.chat.completions.create(
        model="gpt-4.1", messages=HI, tools=tools, tool_choice="required"
    )
    (call,) = completion.choices[0].message.tool_calls or []
    assert call.function.name == "lookup" and call.function.arguments == '{"query": "emulated"}'
    assert completion.choices[0].finish_reason == "tool_calls"

    stream = await client.chat.completions.create(
        model="gpt-4.1",
        messages=HI,
        tools=tools,
        tool_choice={"type": "function", "function": {"name": "lookup"}},
        stream=True,
    )
    arguments = [
        d.tool_calls[0].function.arguments async for c in stream if (d := c.choices[0].delta).tool_calls
    ]
    assert arguments == ["", '{"query": ', '"emulated"}']  # every piece, in order
    await client.close()
