"""The emulator's answers (JSON and SSE in each provider's format), its record, its control API,
auth, per-request tuning and fast mode, over real sockets."""

from __future__ import annotations

import asyncio
import base64
import sys
import time

import aiohttp
import orjson

from sidecar.emulator import Emulator, EmulatorConfig
from tests.emulated import AZURE_QUERY, post, sse_data, sse_event_names

HI = [{"role": "user", "content": "hi"}]


async def test_openai_json_answer_is_deterministic(emulator):
    body = {"model": "gpt-4o", "messages": HI}
    first = await post(emulator.url, "/v1/chat/completions", body)
    second = await post(emulator.url, "/v1/chat/completions", body)
    assert first.status == 200
    assert first.content_type == "application/json"
    assert first.raw == second.raw  # same request bytes, same answer bytes
    data = first.json()
    assert data["object"] == "chat.completion"
    assert data["model"] == "gpt-4o"
    assert data["choices"][0]["message"]["content"] == "Hello from the llm-sidecar"
    assert data["choices"][0]["finish_reason"] == "stop"
    assert data["usage"]["completion_tokens"] == 4


async def test_openai_stream_chunks_end_with_done_and_usage_when_asked(emulator):
    body = {"model": "o4-mini", "messages": HI, "stream": True, "stream_options": {"include_usage": True}}
    answer = await post(emulator.url, "/v1/chat/completions", body)
    assert answer.status == 200
    assert answer.content_type.startswith("text/event-stream")
    data = sse_data(answer.raw)
    assert data[-1] == "[DONE]"
    chunks = [orjson.loads(d) for d in data[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"]) == (
        "Hello from the llm-sidecar"
    )
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []  # the usage chunk (include_usage)
    assert chunks[-1]["usage"]["completion_tokens_details"]["reasoning_tokens"] == 4  # hidden reasoning


async def test_azure_stream_opens_with_prompt_filter_results(emulator):
    path = "/openai/deployments/team-chat/chat/completions" + AZURE_QUERY
    answer = await post(emulator.url, path, {"messages": HI, "stream": True})
    assert answer.status == 200
    first = orjson.loads(sse_data(answer.raw)[0])
    assert first["choices"] == [] and "prompt_filter_results" in first
    assert orjson.loads(sse_data(answer.raw)[1])["model"] == "gpt-4o"  # the deployment's model


async def test_azure_requires_api_version_and_a_known_deployment(emulator):
    no_version = await post(emulator.url, "/openai/deployments/team-chat/chat/completions", {"messages": HI})
    assert no_version.status == 404
    assert no_version.json() == {"error": {"code": "404", "message": "Resource not found"}}
    unknown = await post(
        emulator.url, "/openai/deployments/nope/chat/completions" + AZURE_QUERY, {"messages": HI}
    )
    assert unknown.status == 404
    assert unknown.json()["error"]["code"] == "DeploymentNotFound"
    v1 = await post(emulator.url, "/openai/v1/chat/completions", {"model": "nope", "messages": HI})
    assert v1.status == 404
    assert v1.json()["error"]["code"] == "DeploymentNotFound"


async def test_anthropic_stream_with_thinking_has_signed_thinking_block_first(emulator):
    body = {
        "model": "claude-3-7-sonnet-20250219",
        "max_tokens": 4096,
        "messages": HI,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "stream": True,
    }
    answer = await post(emulator.url, "/v1/messages", body)
    assert answer.status == 200
    names = sse_event_names(answer.raw)
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    events = [orjson.loads(d) for d in sse_data(answer.raw)]
    assert [e["type"] for e in events] == names  # `event:` line matches the payload's type
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["thinking", "text"]
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert deltas == ["thinking_delta"] * 4 + ["signature_delta"] + ["text_delta"] * 4


async def test_anthropic_json_without_thinking_has_text_only(emulator):
    body = {"model": "claude-sonnet-4-5", "max_tokens": 100, "messages": HI}
    answer = await post(emulator.url, "/v1/messages", body)
    data = answer.json()
    assert data["type"] == "message" and data["stop_reason"] == "end_turn"
    assert [b["type"] for b in data["content"]] == ["text"]


async def test_deepseek_reasoner_streams_reasoning_content_before_content(emulator):
    body = {"model": "deepseek-reasoner", "messages": HI, "stream": True}
    answer = await post(emulator.url, "/deepseek/v1/chat/completions", body)
    deltas = [orjson.loads(d)["choices"][0]["delta"] for d in sse_data(answer.raw)[:-1]]
    kinds = [
        "reasoning" if d.get("reasoning_content") else "content" if d.get("content") else "-" for d in deltas
    ]
    assert kinds == ["-", *["reasoning"] * 4, *["content"] * 4, "-"]


async def test_litellm_claude_thinking_returns_reasoning_content_and_thinking_blocks(emulator):
    body = {
        "model": "anthropic.claude-3-7-sonnet-20250219-v1:0",
        "messages": HI,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    message = (await post(emulator.url, "/litellm/v1/chat/completions", body)).json()["choices"][0]["message"]
    assert message["reasoning_content"] == "Let me think about"
    assert message["thinking_blocks"][0]["signature"].startswith("EmuSig")


async def test_credentials_are_required_like_the_providers_require_them(emulator):
    async with aiohttp.ClientSession() as s:
        async with s.post(
            emulator.url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": HI}
        ) as r:
            assert r.status == 401
            assert "You didn't provide an API key" in (await r.json())["error"]["message"]
        async with s.post(emulator.url + "/v1/messages", json={}, headers={"x-api-key": "k"}) as r:
            assert r.status == 400
            assert (await r.json())["error"]["message"] == "anthropic-version: header is required"
        async with s.post(emulator.url + "/v1/messages", json={}) as r:
            assert r.status == 401
            assert (await r.json())["error"]["type"] == "authentication_error"


async def test_record_keeps_raw_bytes_and_redacts_credentials(emulator):
    raw = b'{"model":"gpt-4o",  "messages":[{"role":"user","content":"h\\u00e9"}]}'
    await post(emulator.url, "/v1/chat/completions?trace=1", raw, {"X-Custom": "kept"})
    rec = emulator.last()
    assert (rec.method, rec.path, rec.query, rec.status) == ("POST", "/v1/chat/completions", "trace=1", 200)
    assert rec.body == raw
    assert rec.header("Authorization") == "<redacted>"
    assert rec.header("X-Custom") == "kept"
    assert rec.json()["model"] == "gpt-4o"


async def test_record_over_http_and_clear(emulator):
    await post(emulator.url, "/v1/chat/completions", b"not json")
    async with aiohttp.ClientSession() as s:
        async with s.get(emulator.url + "/_emulator/requests") as r:
            (record,) = await r.json()
        assert base64.b64decode(record["body_base64"]) == b"not json"
        assert record["json"] is None and record["status"] == 400
        async with s.delete(emulator.url + "/_emulator/requests") as r:
            assert r.status == 204
        async with s.get(emulator.url + "/_emulator/requests") as r:
            assert await r.json() == []
    assert emulator.requests == []


async def test_record_is_bounded():
    async with Emulator(EmulatorConfig(max_records=2)) as emu:
        for i in range(3):
            await post(emu.url, "/v1/chat/completions", {"model": "gpt-4o", "messages": HI, "n": i})
        assert [r.json()["n"] for r in emu.requests] == [1, 2]
        assert emu.recorder.count == 3


async def test_event_count_and_delay_can_be_set_per_request(emulator):
    """Events arrive one by one, `x-emulator-delay` apart (a loose lower bound only)."""
    body = {"model": "gpt-4o", "messages": HI, "stream": True}
    headers = {"Authorization": "Bearer k", "x-emulator-events": "3", "x-emulator-delay": "0.05"}
    arrivals: list[float] = []
    async with aiohttp.ClientSession() as s:
        async with s.post(emulator.url + "/v1/chat/completions", json=body, headers=headers) as r:
            async for _ in r.content.iter_any():
                arrivals.append(time.monotonic())
    # role + 3 content + finish + [DONE] = 6 events, 5 gaps of >= 50 ms.
    assert arrivals[-1] - arrivals[0] >= 0.2
    assert len(arrivals) >= 2


async def test_unknown_path_answers_like_openai(emulator):
    answer = await post(emulator.url, "/v1/completions-typo", {})
    assert answer.status == 404
    assert answer.json()["error"]["message"] == "Invalid URL (POST /v1/completions-typo)"


async def test_models_list(emulator):
    async with aiohttp.ClientSession() as s, s.get(emulator.url + "/v1/models") as r:
        ids = {m["id"] for m in (await r.json())["data"]}
    assert {"gpt-4o", "o4-mini", "gpt-5-mini"} <= ids and "o3-pro" not in ids


async def test_fast_mode_skips_validation_and_recording():
    async with Emulator(EmulatorConfig(fast=True, event_count=2)) as emu:
        bad = {"model": "o4-mini", "messages": HI, "max_tokens": 5}  # would be a 400 in strict mode
        answer = await post(emu.url, "/v1/chat/completions", bad)
        assert answer.status == 200
        stream = await post(emu.url, "/v1/messages", {"model": "x", "stream": True})
        assert sse_event_names(stream.raw)[-1] == "message_stop"
        assert emu.requests == [] and emu.recorder.count == 2


async def test_sidecar_emulator_command_prints_its_url_and_serves():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "emulator", "--deployment", "mine=o3", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        assert line.startswith("emulator listening on http://127.0.0.1:")
        url = line.split()[3]
        answer = await post(
            url, "/openai/deployments/mine/chat/completions" + AZURE_QUERY, {"messages": HI, "max_tokens": 1}
        )
        assert answer.json()["error"]["param"] == "max_tokens"  # `mine` serves o3
    finally:
        proc.terminate()
        assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_vllm_ignores_unknown_fields_and_qwen3_thinks_unless_disabled(emulator):
    """§1.8: unknown top-level fields are ignored; Qwen3 thinks by default, answered as `reasoning`."""
    path = "/vllm/v1/chat/completions"
    thinking = await post(
        emulator.url, path, {"model": "Qwen/Qwen3-8B", "messages": HI, "max_completion_tokens": 5}
    )
    assert thinking.status == 200
    assert thinking.json()["choices"][0]["message"]["reasoning"] == "Let me think about"
    off = {"model": "Qwen/Qwen3-8B", "messages": HI, "chat_template_kwargs": {"enable_thinking": False}}
    assert "reasoning" not in (await post(emulator.url, path, off)).json()["choices"][0]["message"]
    assert (await post(emulator.url, path, {"messages": HI})).status == 400  # no model
