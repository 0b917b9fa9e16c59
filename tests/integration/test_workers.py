"""`sidecar serve --workers N`: processes sharing one port, supervised, with merged metrics."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys

import aiohttp
import yaml

from tests.process import start_sidecar_process


def _config(upstream_url: str, **extra):
    return {
        "routes": [{"prefix": "/v1", "upstream": upstream_url, "dialect": "openai"}],
        "shutdown": {"drain_seconds": 3},
        "logging": {"access_log": False},
        **extra,
    }


def _total(metrics: str, name: str) -> float:
    return sum(float(v) for v in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", metrics, re.M))


async def test_two_workers_share_the_port_merge_metrics_and_drain_on_sigterm(tmp_path, upstream):
    sp = await start_sidecar_process(
        tmp_path,
        _config(upstream.url),
        args=["serve", "--config", str(tmp_path / "sidecar.yaml"), "--workers", "2"],
    )
    ready = await sp.wait_for_event("workers_ready")
    assert ready["workers"] == 2
    pids = set(ready["pids"])
    assert len(pids) == 2 and sp.proc.pid not in pids
    listeners = [line for line in sp.lines if line.get("event") == "listening"]
    assert {line["proxy"] for line in listeners} == {ready["proxy"]}

    # Fresh connections: the kernel spreads them over both workers' sockets.
    for _ in range(20):
        async with aiohttp.ClientSession() as s:
            async with s.post(sp.proxy + "/v1/chat/completions", data=b"{}") as r:
                assert r.status == 200
    # Whichever worker answers /metrics reports every worker's requests.
    for _ in range(3):
        async with aiohttp.ClientSession() as s:
            async with s.get(sp.admin + "/metrics") as r:
                assert _total(await r.text(), "sidecar_requests_total") == 20

    sp.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(sp.proc.wait(), 15) == 0
    lines = await sp.rest_of_output()
    exited = [line for line in lines if line.get("event") == "worker_exited"]
    assert {line["pid"] for line in exited} == pids
    assert all(line["code"] == 0 for line in exited)
    parent_stopped = next(line for line in lines if line.get("event") == "stopped" and "workers" in line)
    assert parent_stopped["failed"] is False


async def test_crashed_worker_is_replaced_and_service_continues(tmp_path, upstream):
    sp = await start_sidecar_process(
        tmp_path,
        _config(upstream.url),
        args=["serve", "--config", str(tmp_path / "sidecar.yaml"), "--workers", "2"],
    )
    ready = await sp.wait_for_event("workers_ready")
    victim = ready["pids"][0]
    os.kill(victim, signal.SIGKILL)
    crashed = await sp.wait_for_event("worker_crashed")
    assert crashed["pid"] == victim and crashed["code"] == -signal.SIGKILL
    restarted = await sp.wait_for_event("worker_restarted")
    assert restarted["pid"] not in ready["pids"]
    await sp.wait_for_event("listening")  # the replacement is up
    for _ in range(6):
        async with aiohttp.ClientSession() as s:
            async with s.post(sp.proxy + "/v1/x", data=b"{}") as r:
                assert r.status == 200
    sp.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(sp.proc.wait(), 15) == 0


async def test_workers_that_cannot_listen_fail_the_start_with_exit_1(tmp_path, upstream):
    with socket.socket() as taken:  # no SO_REUSEPORT: the workers cannot bind next to it
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "sidecar.yaml"
        path.write_text(
            yaml.safe_dump(
                _config(upstream.url, listen={"proxy": f"127.0.0.1:{port}", "admin": "127.0.0.1:0"})
            )
        )
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sidecar", "serve", "--config", str(path), "--workers", "2",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        stdout, _ = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 1
    assert b'"event":"worker_crashed"' in stdout
    assert b"workers_ready" not in stdout


async def test_sighup_to_the_parent_reloads_every_worker(tmp_path, upstream):
    sp = await start_sidecar_process(
        tmp_path,
        _config(upstream.url),
        args=["serve", "--config", str(tmp_path / "sidecar.yaml"), "--workers", "2"],
    )
    await sp.wait_for_event("workers_ready")
    sp.proc.send_signal(signal.SIGHUP)
    first = await sp.wait_for_event("config_reloaded")
    second = await sp.wait_for_event("config_reloaded")
    assert first["trigger"] == second["trigger"] == "signal"
    # The resolved addresses reach the workers as environment overrides, which every reload
    # re-applies: nothing looks changed, so nothing asks for a restart.
    assert not [line for line in sp.lines if line.get("event") == "config_restart_required"]
    sp.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(sp.proc.wait(), 15) == 0
    assert not [line for line in await sp.rest_of_output() if line.get("event") == "worker_crashed"]


async def test_workers_exit_when_the_supervisor_is_killed(tmp_path, upstream):
    """SIGKILL (or the OOM killer) on the parent must not leave orphan workers serving the port."""
    sp = await start_sidecar_process(
        tmp_path,
        _config(upstream.url),
        args=["serve", "--config", str(tmp_path / "sidecar.yaml"), "--workers", "2"],
    )
    ready = await sp.wait_for_event("workers_ready")
    sp.proc.kill()
    await sp.proc.wait()

    def alive(pid: int) -> bool:
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ", 1)[1][0] != "Z"
        except FileNotFoundError:
            return False

    for _ in range(100):  # bounded: 10 s
        if not any(alive(pid) for pid in ready["pids"]):
            break
        await asyncio.sleep(0.1)
    assert not any(alive(pid) for pid in ready["pids"]), "orphaned workers kept running"
