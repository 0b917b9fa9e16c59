"""Issue 4 end to end: real sockets, the strict emulator, the official SDKs."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # before the import: read at import time

import litellm
import openai
import orjson
import pytest

from sidecar.config import SidecarConfig
from sidecar.emulator.demo import demo_config
from sidecar.metrics import Metrics
from sidecar.server import Sidecar
from tests.emulated import ANTHROPIC_AUTH, Stack, post

pytestmark = pytest.mark.filterwarnings("ignore:Item .* is using the `ReadOnly` qualifier:UserWarning")

SEED_MODEL = "litellm_proxy/anthropic.claude-3-7-sonnet-20250219-v1:0"
HI = [{"role": "user", "content": "hi"}]
CLAUDE = "claude-3-7-sonnet-20250219"


async def test_seed_case_with_reasoning_effort_instead_of_thinking(stack):
    # §1.12 / §4 item 2: `reasoning_effort` to a LiteLLM proxy in front of Claude was rejected
    # (UnsupportedParamsError). The sidecar writes it as the Anthropic thinking object (§2.2:
    # high -> 4096) and gives the answer room (max_tokens = budget + 4096, §2.1).
    response = await litellm.acompletion(
        model=SEED_MODEL, messages=HI, reasoning_effort="high", stream=True,
        api_base=stack.url + "/litellm", api_key="sk-test",
    )  # fmt: skip
    reasoning, content = [], []
    async for chunk in response:
        delta = chunk.choices[0].delta
        if getattr(delta, "reasoning_content", None):
            reasoning.append(delta.reasoning_content)
        if delta.content:
            content.append(delta.content)
    assert reasoning and content
    body = stack.emulator.last().json()
    assert stack.emulator.last().status == 200
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 4096}
    assert "reasoning_effort" not in body
    assert body["max_tokens"] == 8192


async def test_openai_sdk_reasoning_effort_against_claude(stack):
    client = openai.AsyncOpenAI(base_url=stack.url + "/litellm", api_key="sk-test", max_retries=0)
    reply = await client.chat.completions.create(
        model=CLAUDE,
        messages=HI,
        reasoning_effort="medium",
        temperature=0.2,
        max_tokens=8000,  # type: ignore[arg-type]
    )
    await client.close()
    assert reply.choices[0].message.content
    body = stack.emulator.last().json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}  # §2.2 medium -> 2048
    assert "temperature" not in body  # §1.4 "temperature may only be set to 1 when thinking is enabled"
    assert body["max_tokens"] == 8000


@pytest.fixture
async def inject_stack(emulator) -> AsyncIterator[Stack]:
    """The demo stack plus an operator policy: always think (low) on Claude 3.7."""
    config = demo_config(emulator.url, "127.0.0.1:0", "127.0.0.1:0")
    config["rules"] = {
        "policies": [{"family": "claude-3-7", "thinking": {"mode": "inject", "effort": "low"}}]
    }
    sidecar = Sidecar(SidecarConfig.model_validate(config), metrics=Metrics())
    await sidecar.start()
    yield Stack(emulator, sidecar)
    await sidecar.stop()


def _events(raw: bytes) -> list[dict]:
    return [orjson.loads(line[6:]) for line in raw.split(b"\n") if line.startswith(b"data: ")]


def _without_thinking(events: list[dict]) -> list[dict]:
    """What the client must see: thinking blocks gone, later block indexes renumbered."""
    thinking = {e["index"] for e in events if e["type"] == "content_block_start"
                and e["content_block"]["type"] in ("thinking", "redacted_thinking")}  # fmt: skip
    out = []
    for event in events:
        if "index" in event and event["type"].startswith("content_block"):
            if event["index"] in thinking:
                continue
            event = {**event, "index": event["index"] - sum(1 for t in thinking if t < event["index"])}
        out.append(event)
    return out


async def test_injected_thinking_is_removed_from_the_stream(inject_stack):
    request = {"model": CLAUDE, "max_tokens": 2048, "messages": HI, "stream": True}
    via_sidecar = await post(inject_stack.url, "/anthropic/v1/messages", request)
    assert via_sidecar.status == 200
    forwarded = inject_stack.emulator.last()
    assert forwarded.json()["thinking"] == {"type": "enabled", "budget_tokens": 1024}  # §2.2 low
    # The same upstream request sent directly: what the upstream streamed to the sidecar.
    direct = await post(inject_stack.emulator.url, "/v1/messages", forwarded.json())
    upstream_events = _events(direct.raw)
    assert any(e.get("content_block", {}).get("type") == "thinking" for e in upstream_events)
    assert _events(via_sidecar.raw) == _without_thinking(upstream_events)
    # Everything but the renumbered index is byte for byte what the upstream sent.
    assert via_sidecar.raw.count(b"event: message_start") == 1
    assert b'"thinking"' not in via_sidecar.raw.replace(b'"thinking_delta"', b"")


async def test_injected_thinking_is_removed_from_a_json_response(inject_stack):
    request = {"model": CLAUDE, "max_tokens": 2048, "messages": HI}
    answer = await post(inject_stack.url, "/anthropic/v1/messages", request)
    assert answer.status == 200
    message = answer.json()
    assert [b["type"] for b in message["content"]] == ["text"]


async def test_thinking_the_client_asked_for_passes_byte_for_byte(inject_stack):
    thinking = {"type": "enabled", "budget_tokens": 1024}
    request = {"model": CLAUDE, "max_tokens": 2048, "messages": HI, "stream": True, "thinking": thinking}
    via_sidecar = await post(inject_stack.url, "/anthropic/v1/messages", request)
    direct = await post(inject_stack.emulator.url, "/v1/messages", request, headers=ANTHROPIC_AUTH)
    assert via_sidecar.raw == direct.raw
    assert b"thinking_delta" in via_sidecar.raw
