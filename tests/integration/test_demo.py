"""`sidecar demo`: runs offline, prints every scenario honestly, exits 0 with `--once`."""

from __future__ import annotations

import asyncio
import io
import signal
import socket
import subprocess
import sys

import orjson

from sidecar.emulator.demo import SCENARIOS, run_demo

EPHEMERAL = ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]


def test_demo_once_exits_zero_and_prints_each_scenario():
    result = subprocess.run(
        [sys.executable, "-m", "sidecar", "demo", "--once", *EPHEMERAL],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "emulator (strict fake providers) listening on http://127.0.0.1:" in out
    for scenario in SCENARIOS:
        assert scenario.title in out
    assert out.count("  app got ") == len(SCENARIOS)
    assert out.count("  without sidecar ") == len(SCENARIOS)
    assert "sidecar_rewrites_total from the admin /metrics:" in out
    assert "Traceback" not in result.stderr


async def test_demo_replay_reaches_the_upstream_and_shows_the_direct_failures():
    out = io.StringIO()
    results = await run_demo("127.0.0.1:0", "127.0.0.1:0", once=True, stdout=out)
    by_key = {r.scenario.key: r for r in results}
    assert set(by_key) == {s.key for s in SCENARIOS}
    for r in results:
        # Every route (prefix stripping, base paths, Azure query) reaches the emulator.
        assert r.upstream_body is not None, r.scenario.key
    # Straight to the provider, every legacy request fails with the provider's message...
    for key, result in by_key.items():
        if key != "gpt-4o":
            assert result.direct.status == 400, key
            assert result.direct.message, key
    assert "Unsupported parameter: 'max_tokens'" in (by_key["o4-mini"].direct.message or "")
    # ...and the request with nothing to fix passes the sidecar byte for byte and succeeds.
    untouched = by_key["gpt-4o"]
    assert untouched.upstream_body == untouched.sent
    assert untouched.via_sidecar.ok and untouched.direct.ok
    assert "identical bytes" in out.getvalue()
    # The rewrite engine fixes these in flight; the rule ids come back in x-sidecar-rewrites.
    fixed = {
        "o4-mini": ("openai-max-tokens-to-max-completion-tokens", ("max_tokens", "temperature")),
        "azure": ("openai-max-tokens-to-max-completion-tokens", ("max_tokens",)),
        "gpt-5-mini-stream": ("openai-max-tokens-to-max-completion-tokens", ("max_tokens", "top_p")),
        "claude-opus-4-7": ("claude-sampling-removed", ("temperature",)),
        # Issue 4: reasoning_effort becomes Claude's thinking object (§1.12 seed case); legacy
        # deepseek-reasoner loses the reasoning_content it refuses (§1.7).
        "litellm-claude": ("thinking.translate", ("reasoning_effort",)),
        "deepseek": ("thinking.history", ()),
    }
    for key, (rule, removed) in fixed.items():
        result = by_key[key]
        assert result.via_sidecar.ok, (key, result.via_sidecar)
        assert rule in result.via_sidecar.rules, key
        forwarded = orjson.loads(result.upstream_body or b"{}")
        assert not set(removed) & set(forwarded), (key, forwarded)
    assert all(r.via_sidecar.ok for r in results)
    assert by_key["gpt-5-mini-stream"].via_sidecar.events > 0
    seed = orjson.loads(by_key["litellm-claude"].upstream_body or b"{}")
    assert seed["thinking"]["type"] == "enabled"
    assert 1024 <= seed["thinking"]["budget_tokens"] < seed["max_tokens"]  # §1.4
    assert by_key["litellm-claude"].via_sidecar.events > 0  # the stream arrived
    history = orjson.loads(by_key["deepseek"].upstream_body or b"{}")["messages"]
    assert not any("reasoning_content" in m for m in history)
    assert "-messages[1].reasoning_content" in out.getvalue()
    # The counters printed from /metrics carry those rules (zero-valued series are left out).
    counters = out.getvalue().split("sidecar_rewrites_total from the admin /metrics:")[1]
    assert 'route="anthropic",rule="claude-sampling-removed"} 1.0' in counters
    assert 'route="azure",rule="openai-max-tokens-to-max-completion-tokens"} 1.0' in counters
    assert "} 0.0" not in counters


async def test_demo_without_once_stays_up_until_interrupted():
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sidecar", "demo", *EPHEMERAL, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    try:

        async def until_ready() -> None:
            assert proc.stdout is not None
            for _ in range(500):  # bounded: the demo prints well under this many lines
                line = await proc.stdout.readline()
                if not line or b"Ctrl-C to stop." in line:
                    return

        await asyncio.wait_for(until_ready(), 60)
        assert proc.returncode is None  # still serving after the replay
        proc.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(proc.wait(), 20) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_demo_picks_free_ports_when_the_default_ones_are_taken():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = f"127.0.0.1:{busy.getsockname()[1]}"
        out = io.StringIO()
        results = await run_demo(taken, "127.0.0.1:0", once=True, stdout=out)
    assert f"sidecar listening on http://{taken} " not in out.getvalue()
    assert "sidecar listening on http://127.0.0.1:" in out.getvalue()
    assert len(results) == len(SCENARIOS)
