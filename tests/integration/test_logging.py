"""The real process at debug level: every line is JSON, and no credential or body byte appears."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import orjson

from tests.process import start_sidecar_process

CANARY_KEY = "sk-canary-7f3a9c"
CANARY_TEXT = "body-canary-1234"


async def test_debug_logs_never_contain_credentials_or_bodies(tmp_path, upstream):
    sp = await start_sidecar_process(
        tmp_path,
        {
            "routes": [{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
            "logging": {"level": "debug"},
            "debug": {"response_headers": True},
        },
    )
    headers = {
        "Authorization": f"Bearer {CANARY_KEY}",
        "api-key": CANARY_KEY,
        "x-api-key": CANARY_KEY,
        "X-Request-Id": "rid-dbg",
        "Content-Type": "application/json",
    }
    bodies = [
        # Parameters the rule packs rewrite (max_tokens, temperature, reasoning_effort), so the
        # debug lines for rewrite decisions are exercised once the packs are loaded.
        {
            "model": "o3-mini",
            "max_tokens": 50,
            "temperature": 0.2,
            "messages": [{"role": "user", "content": CANARY_TEXT}],
        },
        {
            "model": "claude-opus-4-7",
            "reasoning_effort": "high",
            "temperature": 1,
            "system": CANARY_TEXT,
            "messages": [],
        },
    ]
    try:
        async with aiohttp.ClientSession() as s:
            for body in bodies:
                async with s.post(
                    sp.proxy + "/v1/chat/completions", data=orjson.dumps(body), headers=headers
                ) as r:
                    assert r.status == 200
            async with s.post(
                sp.proxy + "/v1/sse?n=2&delay=0", data=orjson.dumps(bodies[0]), headers=headers
            ) as r:
                assert (await r.read()).endswith(b"data: [DONE]\n\n")
        assert all(CANARY_TEXT.encode() in got.body for got in upstream.received)  # the canaries crossed
    finally:
        if sp.proc.returncode is None:
            sp.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(sp.proc.wait(), 10) == 0
    lines = await sp.rest_of_output()
    assert sp.proc.stderr is not None
    stderr = (await sp.proc.stderr.read()).decode()

    access = [line for line in lines if line.get("logger") == "sidecar.access"]
    assert [line["request_id"] for line in access] == ["rid-dbg"] * 3
    assert [line["stream"] for line in access] == [False, False, True]
    assert access[2]["stream_events"] == 3
    for line in access:
        assert set(line) >= {
            "route",
            "family",
            "status",
            "duration_s",
            "overhead_s",
            "bytes_in",
            "bytes_out",
            "rules",
            "dry_run",
        }
    rewrites = [line for line in lines if line.get("logger") == "sidecar.rewrite"]
    assert sum(len(line["rules"]) for line in access) == len(rewrites)
    assert access[0]["rules"] == [
        "openai-max-tokens-to-max-completion-tokens",
        "openai-temperature-default-only",
    ]
    assert [(r["rule"], r["path"], r["before"]) for r in rewrites[:2]] == [
        ("openai-max-tokens-to-max-completion-tokens", "max_tokens -> max_completion_tokens", 50),
        ("openai-temperature-default-only", "temperature", 0.2),
    ]
    for line in rewrites:
        assert line["level"] == "debug"
        assert line["request_id"] == "rid-dbg"
    everything = str(lines) + stderr
    assert CANARY_KEY not in everything
    assert CANARY_TEXT not in everything
