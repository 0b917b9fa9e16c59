"""The real process: CLI, signals, graceful drain, admin endpoints, logs."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys

import aiohttp

from tests.process import start_sidecar_process


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sidecar", *args], capture_output=True, text=True, timeout=30
    )


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("sidecar ")


def test_check_good_file_prints_summary(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "routes:\n  - prefix: /anthropic\n    upstream: https://api.anthropic.com\n"
        "    dialect: anthropic\n    strip_prefix: true\n"
    )
    result = run_cli("check", str(path))
    assert result.returncode == 0, result.stderr
    assert f"{path}: OK" in result.stdout
    assert "/anthropic -> https://api.anthropic.com (anthropic) [strip-prefix]" in result.stdout


def test_check_bad_file_exits_nonzero_with_located_errors(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("routes:\n  - prefix: /v1\n    upstream: https://api.openai.com\n    dialect: opneai\n")
    result = run_cli("check", str(path))
    assert result.returncode == 2
    assert f"{path}:4: routes[0].dialect:" in result.stderr
    assert result.stdout == ""


async def test_sigterm_drains_in_flight_stream_then_exits_zero(tmp_path, upstream):
    sp = await start_sidecar_process(
        tmp_path,
        {
            "routes": [{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
            "shutdown": {"drain_seconds": 5},
        },
    )
    async with aiohttp.ClientSession() as s:
        stream = await s.post(sp.proxy + "/v1/sse?n=8&delay=0.15", data=b"{}")
        first = await stream.content.readany()
        assert first.startswith(b"data: ")
        sp.proc.send_signal(signal.SIGTERM)
        await sp.wait_for_event("draining")
        async with s.get(sp.admin + "/readyz") as r:
            assert r.status == 503
            assert (await r.json())["status"] == "draining"
        try:
            async with aiohttp.ClientSession() as fresh:
                await fresh.get(sp.proxy + "/v1/models")
            refused = False
        except aiohttp.ClientConnectionError:
            refused = True
        assert refused, "new connections must be refused while draining"
        rest = await stream.read()
        body = first + rest
        assert body.endswith(b"data: [DONE]\n\n")
        assert body.count(b"data: ") == 9
    assert await asyncio.wait_for(sp.proc.wait(), 10) == 0
    events = [line.get("event") for line in await sp.rest_of_output()]
    assert "stopped" in events


async def test_admin_probes_metrics_and_redacted_config(tmp_path, upstream):
    sp = await start_sidecar_process(
        tmp_path,
        {"routes": [{"prefix": "/v1", "upstream": "http://user:hunter2@127.0.0.1:1", "dialect": "openai"}]},
    )
    try:
        async with aiohttp.ClientSession() as s:
            async with s.get(sp.admin + "/healthz") as r:
                assert r.status == 200
            async with s.get(sp.admin + "/readyz") as r:
                assert r.status == 200
                assert (await r.json())["status"] == "ready"
            async with s.get(sp.admin + "/metrics") as r:
                text = await r.text()
                assert 'sidecar_build_info{version="' in text
            async with s.get(sp.admin + "/debug/config") as r:
                shown = await r.text()
                assert "hunter2" not in shown
                assert "127.0.0.1:1" in shown
    finally:
        sp.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(sp.proc.wait(), 10) == 0


async def test_access_log_is_json_and_never_contains_credentials_or_bodies(tmp_path, upstream):
    canary = "sk-canary-7f3a9c"
    sp = await start_sidecar_process(
        tmp_path, {"routes": [{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}]}
    )
    async with aiohttp.ClientSession() as s:
        headers = {"Authorization": f"Bearer {canary}", "api-key": canary, "X-Request-Id": "rid-42"}
        body = b'{"model": "gpt-4o", "messages": [{"role": "user", "content": "body-canary-1234"}]}'
        async with s.post(sp.proxy + "/v1/chat/completions", data=body, headers=headers) as r:
            assert r.status == 200
    sp.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(sp.proc.wait(), 10) == 0
    lines = await sp.rest_of_output()
    access = [line for line in lines if line.get("logger") == "sidecar.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "rid-42"
    assert line["route"] == "v1"
    assert line["status"] == 200
    assert line["bytes_in"] == len(body)
    assert line["method"] == "POST"
    everything = str(lines)
    assert canary not in everything
    assert "body-canary-1234" not in everything
