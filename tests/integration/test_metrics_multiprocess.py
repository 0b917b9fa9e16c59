"""Two sidecar processes sharing one multiprocess directory: /metrics on either shows the sum."""

from __future__ import annotations

import asyncio
import signal

import aiohttp

from sidecar.metrics import MULTIPROC_ENV, worker_exited
from tests.process import SidecarProcess, start_sidecar_process
from tests.scrape import scrape, scrape_when, value


async def _post(proxy: str, n: int) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(n):
            async with s.post(proxy + "/v1/chat/completions", data=b"{}") as r:
                assert r.status == 200


async def _stop(sp: SidecarProcess) -> None:
    if sp.proc.returncode is None:
        sp.proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(sp.proc.wait(), 10)


async def test_two_processes_aggregate_counters_and_live_gauges(tmp_path, upstream, monkeypatch):
    shared = tmp_path / "metrics"
    shared.mkdir()
    env = {MULTIPROC_ENV: str(shared)}
    config = {"routes": [{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}]}
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = await start_sidecar_process(tmp_path / "a", dict(config), env=env)
    b = await start_sidecar_process(tmp_path / "b", dict(config), env=env)
    try:
        await _post(a.proxy, 3)
        await _post(b.proxy, 2)
        for admin in (a.admin, b.admin):
            # Another process's sample files are read while it may be mid-update: wait for both.
            s = await scrape_when(
                admin,
                lambda now: (
                    value(now, "sidecar_requests_total", code="200") == 5
                    and value(now, "sidecar_overhead_seconds_count") == 5
                ),
            )
            assert value(s, "sidecar_requests_total", route="v1", code="200") == 5
            assert value(s, "sidecar_overhead_seconds_count", route="v1") == 5
            assert value(s, "sidecar_requests_in_flight", route="v1") == 0
            assert value(s, "sidecar_build_info") == 1  # max over processes, not a sum
            assert value(s, "sidecar_config_last_reload_successful") == 1

        async with aiohttp.ClientSession() as s:
            held = await s.get(b.proxy + "/v1/hang")  # an open stream in process b
            assert await held.content.readany()
            seen = await scrape_when(a.admin, lambda now: value(now, "sidecar_streams_active") == 1)
            assert value(seen, "sidecar_streams_active", route="v1") == 1
            assert value(seen, "sidecar_requests_in_flight", route="v1") == 1

            b.proc.kill()  # dies without cleaning up; its parent reaps it and says so
            await b.proc.wait()
            held.close()
        monkeypatch.setenv(MULTIPROC_ENV, str(shared))
        worker_exited(b.proc.pid)
        after = await scrape(a.admin)
        assert value(after, "sidecar_streams_active", route="v1") == 0
        assert value(after, "sidecar_requests_in_flight", route="v1") == 0
        # The dead process's counts stay: totals never go backwards when a worker is replaced.
        assert value(after, "sidecar_requests_total", route="v1", code="200") == 5
    finally:
        await _stop(a)
        await _stop(b)


PARENT = """
import os, sys
from pathlib import Path
import prometheus_client  # imported before the switch, as a parent importing sidecar would
from sidecar.metrics import MULTIPROC_ENV, Metrics, prepare_multiprocess_dir
shared = Path(sys.argv[1])
(shared / "counter_999999.db").write_bytes(b"stale")
assert prepare_multiprocess_dir(shared) == shared
assert os.environ[MULTIPROC_ENV] == str(shared)
assert not (shared / "counter_999999.db").exists()
pid = os.fork()
if pid == 0:  # a forked worker
    Metrics().requests.labels(route="r", family="none", code="200", model="other").inc(7)
    os._exit(0)
os.waitpid(pid, 0)
print(Metrics().exposition().decode())
"""


def test_prepare_multiprocess_dir_makes_forked_workers_share_samples(tmp_path):
    import subprocess
    import sys

    from tests.scrape import parse

    shared = tmp_path / "shared"
    shared.mkdir()
    out = subprocess.run(
        [sys.executable, "-c", PARENT, str(shared)], capture_output=True, text=True, timeout=30, check=True
    )
    assert value(parse(out.stdout), "sidecar_requests_total", route="r", code="200") == 7
