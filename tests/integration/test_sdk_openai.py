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
    client = openai.AsyncOpenAI(base_url=stack.url + "/v1", api_key="sk-test", max_retries=0)
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
    client = openai.AsyncAzureOpenAI(
        azure_endpoint=stack.url, api_version="2024-12-01-preview", api_key="azure-test", max_retries=0
    )
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
    client = openai.AsyncOpenAI(base_url=emulator.url + "/v1", api_key="sk-test", max_retries=0)
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(model="o4-mini", messages=HI, max_tokens=50)
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == "max_tokens"
    assert "Use 'max_completion_tokens' instead." in caught.value.message
    with pytest.raises(openai.NotFoundError):
        await client.chat.completions.create(model="gpt-9-ultra", messages=HI)
    await client.close()
