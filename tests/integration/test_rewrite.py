"""End to end over real sockets: a legacy client -> sidecar -> the strict emulator.

The emulator answers like the providers, including their 400s, so a 200 here means the rewritten
body is one the provider would accept; its record shows the exact bytes that arrived.
"""

from __future__ import annotations

import asyncio
import gzip

import aiohttp
import orjson
import pytest
import zstandard

from tests.conftest import base_url
from tests.emulated import AZURE_QUERY, Stack, post


async def metric_appears(sidecar, line: str) -> None:
    """Metrics are recorded when the handler finishes, just after the client has its answer."""
    for _ in range(100):
        if line in sidecar.state.metrics.exposition().decode():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{line!r} not in the exposition")


JSON = {"Content-Type": "application/json"}
LEGACY = {
    "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "hi"}],
    "max_tokens": 200,
    "temperature": 0.2,
    "top_p": 0.9,
    "parallel_tool_calls": False,
    "tools": [
        {
            "type": "function",
            "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}},
        }
    ],
}


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/v1/chat/completions", "o4-mini"),
        ("/v1/chat/completions", "o3"),
        ("/v1/chat/completions", "gpt-5-mini"),
        ("/openai/deployments/prod-reasoner/chat/completions" + AZURE_QUERY, None),  # alias -> o4-mini
    ],
)
async def test_legacy_body_to_reasoning_models_is_fixed(stack: Stack, path: str, model: str | None) -> None:
    body = {"model": model, **LEGACY} if model else dict(LEGACY)
    # The strict upstream rejects the legacy body as it is...
    direct = await post(stack.emulator.url, path, body)
    assert direct.status == 400, direct.raw
    # ...and accepts it through the sidecar.
    answer = await post(stack.url, path, body)
    assert answer.status == 200, answer.raw
    arrived = stack.emulator.last().json()
    assert arrived["max_completion_tokens"] == 200
    for gone in ("max_tokens", "temperature", "top_p"):
        assert gone not in arrived
    assert arrived["messages"] == LEGACY["messages"]
    assert arrived["tools"] == LEGACY["tools"]


async def test_rewrite_header_names_the_rules(stack: Stack) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.post(
            stack.url + "/v1/chat/completions",
            data=orjson.dumps({"model": "o4-mini", **LEGACY}),
            headers={"Authorization": "Bearer sk-test-openai", "Content-Type": "application/json"},
        ) as r:
            assert r.status == 200
            rules = r.headers["x-sidecar-rewrites"].split(",")
            assert r.headers["x-sidecar-family"] == "openai-o-series"
    assert rules == [
        "openai-max-tokens-to-max-completion-tokens",
        "openai-temperature-default-only",
        "openai-sampling-params-unsupported",
        "openai-parallel-tool-calls-unsupported",
    ]


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-5-chat-latest"])
async def test_models_that_accept_the_legacy_body_get_it_byte_identical(stack: Stack, model: str) -> None:
    # Odd spacing and key order on purpose: a re-encode would be visible.
    raw = (
        b'{ "model" : "' + model.encode() + b'", "temperature":0.2,  "top_p": 0.90, "max_tokens": 200,'
        b' "messages": [{"role": "user", "content": "h\\u00e9"}], "n": 1.0 }'
    )
    answer = await post(stack.url, "/v1/chat/completions", raw)
    assert answer.status == 200, answer.raw
    assert stack.emulator.last().body == raw


async def test_anthropic_route_fixes_claude_4_7_and_injects_max_tokens(stack: Stack) -> None:
    body = {"model": "claude-opus-4-7", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
    answer = await post(stack.url, "/anthropic/v1/messages", body)
    assert answer.status == 200, answer.raw
    assert stack.emulator.last().json() == {
        "model": "claude-opus-4-7",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4096,
    }


async def test_compressed_request_is_decoded_and_forwarded_plain(stack: Stack) -> None:
    data = zstandard.ZstdCompressor().compress(orjson.dumps({"model": "o3", **LEGACY}))
    answer = await post(stack.url, "/v1/chat/completions", data, {"Content-Encoding": "zstd"})
    assert answer.status == 200, answer.raw
    got = stack.emulator.last()
    assert got.header("Content-Encoding") is None
    assert got.header("Content-Length") == str(len(got.body))
    assert got.json()["max_completion_tokens"] == 200


async def test_compressed_request_without_changes_keeps_its_bytes(upstream, make_sidecar) -> None:
    sidecar = await make_sidecar(routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}])
    data = gzip.compress(orjson.dumps({"model": "gpt-4o", "max_tokens": 5}), mtime=0)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            base_url(sidecar) + "/v1/chat/completions",
            data=data,
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        ) as r:
            assert r.status == 200
    (got,) = upstream.received
    # The recording upstream keeps what it receives as sent: the gzip bytes arrived intact.
    assert got.header("Content-Encoding") == "gzip"
    assert got.header("Content-Length") == str(len(data))
    assert got.body == data


async def test_dry_run_route_forwards_original_and_counts_changes(upstream, make_sidecar) -> None:
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai", "dry_run": True}],
        debug={"response_headers": True},
    )
    raw = orjson.dumps({"model": "o4-mini", **LEGACY})
    async with aiohttp.ClientSession() as session:
        async with session.post(base_url(sidecar) + "/v1/chat/completions", data=raw, headers=JSON) as r:
            assert r.status == 200
            assert "openai-max-tokens-to-max-completion-tokens" in r.headers["x-sidecar-rewrites"]
    assert upstream.received[0].body == raw
    await metric_appears(
        sidecar,
        'sidecar_rewrites_total{action="rename",family="openai-o-series",mode="dry_run",model="other",'
        'route="v1",rule="openai-max-tokens-to-max-completion-tokens"} 1.0',
    )


async def test_global_dry_run(upstream, make_sidecar) -> None:
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}], rules={"dry_run": True}
    )
    raw = orjson.dumps({"model": "o3", **LEGACY})
    async with aiohttp.ClientSession() as session:
        async with session.post(base_url(sidecar) + "/v1/chat/completions", data=raw, headers=JSON) as r:
            assert r.status == 200
    assert upstream.received[0].body == raw
    await metric_appears(
        sidecar, 'mode="dry_run",model="other",route="v1",rule="openai-temperature-default-only"} 1.0'
    )


async def test_signed_bedrock_body_is_never_modified(upstream, make_sidecar) -> None:
    sidecar = await make_sidecar(routes=[{"prefix": "/", "upstream": upstream.url, "dialect": "bedrock"}])
    raw = orjson.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": [], "temperature": 0.2})
    headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/bedrock/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc",
        "Content-Type": "application/json",
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(
            base_url(sidecar) + "/model/us.anthropic.claude-opus-4-7/invoke", data=raw, headers=headers
        ) as r:
            assert r.status == 200
        unsigned = {"Authorization": "Bearer bedrock-api-key", "Content-Type": "application/json"}
        async with session.post(
            base_url(sidecar) + "/model/us.anthropic.claude-opus-4-7/invoke", data=raw, headers=unsigned
        ) as r:
            assert r.status == 200
    assert upstream.received[0].body == raw
    assert orjson.loads(upstream.received[1].body) == {
        "anthropic_version": "bedrock-2023-05-31",
        "messages": [],
        "max_tokens": 4096,
    }
    await metric_appears(sidecar, 'reason="signed_body",route="root"} 1.0')
