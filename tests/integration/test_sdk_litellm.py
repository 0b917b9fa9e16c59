"""The `litellm` SDK as a client, through its `litellm_proxy/` provider, against sidecar -> an
emulated LiteLLM proxy in front of Claude: issue 4's seed scenario (§1.12).

LiteLLM must never reach the network: the model cost map is read from the package, not fetched.
"""

from __future__ import annotations

import os

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before the import: read at import time

import litellm
import pytest

# litellm's own response types trip a pydantic UserWarning when first built; not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")

SEED_MODEL = "litellm_proxy/anthropic.claude-3-7-sonnet-20250219-v1:0"
HI = [{"role": "user", "content": "hi"}]
THINKING = {"type": "enabled", "budget_tokens": 1024}
THOUGHT_PIECES = ["Let", " me", " think", " about"]
ANSWER_PIECES = ["Hello", " from", " the", " llm-sidecar"]


async def seed_call(stack, **kwargs):
    """The seed app's call, unchanged but for `api_base`: litellm_proxy/ Claude via the sidecar."""
    return await litellm.acompletion(
        model=SEED_MODEL, messages=HI, api_base=stack.url + "/litellm", api_key="sk-test", **kwargs
    )


async def test_seed_case_thinking_stream_through_the_sidecar(stack):
    response = await seed_call(stack, thinking=THINKING, stream=True)
    reasoning, content = [], []
    async for chunk in response:
        delta = chunk.choices[0].delta
        if getattr(delta, "reasoning_content", None):
            assert not content, "reasoning arrived after the answer started"
            reasoning.append(delta.reasoning_content)
        if delta.content:
            content.append(delta.content)
    assert reasoning == THOUGHT_PIECES  # every event, in order
    assert content == ANSWER_PIECES
    got = stack.emulator.last()
    assert (got.path, got.status) == ("/litellm/chat/completions", 200)
    body = got.json()
    assert body["model"] == "anthropic.claude-3-7-sonnet-20250219-v1:0"  # provider prefix stripped by litellm
    assert body["thinking"] == THINKING  # a valid Anthropic thinking object reached the upstream
    assert body["stream"] is True


async def test_seed_case_thinking_json(stack):
    response = await seed_call(stack, thinking=THINKING, max_tokens=4096)
    message = response.choices[0].message
    assert message.content == "".join(ANSWER_PIECES)
    assert message.reasoning_content == "".join(THOUGHT_PIECES)
    assert stack.emulator.last().json()["max_tokens"] == 4096


async def test_litellm_openai_provider_passthrough(stack):
    response = await litellm.acompletion(
        model="openai/gpt-4o",
        messages=HI,
        max_tokens=30,
        temperature=0.2,
        api_base=stack.url + "/v1",
        api_key="sk-test",
    )
    assert response.choices[0].message.content == "".join(ANSWER_PIECES)
    assert stack.emulator.last().json() == {
        "model": "gpt-4o",
        "messages": HI,
        "max_tokens": 30,
        "temperature": 0.2,
    }


async def test_seed_case_reasoning_effort_json_gets_signed_thinking_back(stack):
    """The seed case's other spelling (§1.12): `reasoning_effort`, which the LiteLLM proxy refuses,
    reaches it as Claude's thinking object (issue 4), and the reasoning comes back signed."""
    response = await seed_call(stack, reasoning_effort="low", max_tokens=4096)
    message = response.choices[0].message
    assert message.content == "".join(ANSWER_PIECES)
    assert message.reasoning_content == "".join(THOUGHT_PIECES)
    assert message.thinking_blocks[0]["signature"].startswith("EmuSig")
    got = stack.emulator.last()
    assert got.status == 200
    body = got.json()
    assert "reasoning_effort" not in body
    assert body["thinking"]["type"] == "enabled"
    assert 1024 <= body["thinking"]["budget_tokens"] < body["max_tokens"]  # §1.4 constraints
