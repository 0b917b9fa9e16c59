"""Hot reload: a ConfigMap symlink swap, SIGHUP, invalid configs, and streams that span a reload."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from sidecar.config import load_config
from sidecar.metrics import Metrics
from sidecar.reload import ConfigWatcher
from sidecar.server import Sidecar
from tests.configmap import ConfigMapVolume
from tests.conftest import admin_url, base_url
from tests.process import start_sidecar_process
from tests.upstream import RecordingUpstream


def config_text(upstream_url: str, **extra: Any) -> str:
    config: dict[str, Any] = {
        "listen": {"proxy": "127.0.0.1:0", "admin": "127.0.0.1:0"},
        "routes": [{"prefix": "/v1", "upstream": upstream_url, "dialect": "openai"}],
        "shutdown": {"drain_seconds": 2},
        **extra,
    }
    return yaml.safe_dump(config, sort_keys=False)


def reloads(sidecar: Sidecar, result: str) -> float:
    value = sidecar.state.metrics.registry.get_sample_value(
        "sidecar_config_reloads_total", {"result": result}
    )
    assert value is not None
    return value


@pytest.fixture
async def other_upstream() -> AsyncIterator[RecordingUpstream]:
    up = await RecordingUpstream().start()
    yield up
    await up.stop()


@pytest.fixture
def volume(tmp_path: Path) -> ConfigMapVolume:
    return ConfigMapVolume(tmp_path / "etc-sidecar")


@pytest.fixture
async def mounted(
    volume: ConfigMapVolume, upstream: RecordingUpstream
) -> AsyncIterator[tuple[Sidecar, ConfigWatcher]]:
    """A sidecar whose config is `config.yaml` in a kubelet-style ConfigMap volume."""
    volume.publish({"config.yaml": config_text(upstream.url), "other-key": "1"})
    path = volume.root / "config.yaml"
    sidecar = Sidecar(load_config(path, env={}), path, metrics=Metrics())
    await sidecar.start()
    yield sidecar, ConfigWatcher(sidecar.state, path, env={})
    await sidecar.stop()


async def get(session: aiohttp.ClientSession, url: str) -> int:
    async with session.post(url, data=b"{}") as r:
        await r.read()
        return r.status


async def test_kubernetes_configmap_symlink_swap_is_reloaded(mounted, volume, upstream, other_upstream):
    sidecar, watcher = mounted
    path = volume.root / "config.yaml"
    assert path.is_symlink() and os.readlink(path) == "..data/config.yaml"
    first_target = path.resolve()
    async with aiohttp.ClientSession() as s:
        assert await get(s, base_url(sidecar) + "/v1/chat/completions") == 200
        assert len(upstream.received) == 1
        assert await watcher.poll() is None

        # Another key of the ConfigMap changes: the swap happens, config.yaml's content does not.
        volume.publish({"config.yaml": config_text(upstream.url), "other-key": "2"})
        assert path.resolve() != first_target
        assert await watcher.poll() is None
        assert reloads(sidecar, "success") == 0

        volume.publish({"config.yaml": config_text(other_upstream.url), "other-key": "2"})
        assert await watcher.poll() is True
        assert await get(s, base_url(sidecar) + "/v1/chat/completions") == 200
    assert len(upstream.received) == 1
    assert [r.raw_path for r in other_upstream.received] == ["/v1/chat/completions"]
    assert reloads(sidecar, "success") == 1
    assert reloads(sidecar, "error") == 0


async def test_invalid_config_is_rejected_logged_counted_and_old_keeps_serving(
    mounted, volume, upstream, other_upstream, caplog
):
    sidecar, watcher = mounted
    path = volume.root / "config.yaml"
    bad = config_text(other_upstream.url).replace("dialect: openai", "dialect: opneai")
    volume.publish({"config.yaml": bad})
    with caplog.at_level(logging.WARNING, logger="sidecar"):
        assert await watcher.poll() is False
    [failed] = [r for r in caplog.records if getattr(r, "event", None) == "config_reload_failed"]
    assert failed.levelno == logging.ERROR
    line = bad.splitlines().index("  dialect: opneai") + 1
    assert any(e.startswith(f"{path}:{line}: routes[0].dialect:") for e in failed.errors), failed.errors
    assert reloads(sidecar, "error") == 1

    async with aiohttp.ClientSession() as s:
        assert await get(s, base_url(sidecar) + "/v1/chat/completions") == 200
        async with s.get(admin_url(sidecar) + "/readyz") as r:
            assert r.status == 200
    assert len(upstream.received) == 1 and not other_upstream.received

    assert await watcher.poll() is None, "an unchanged bad file is reported once, not on every poll"
    assert reloads(sidecar, "error") == 1

    volume.publish({"config.yaml": "routes: [\n"})  # not even YAML
    assert await watcher.poll() is False
    assert reloads(sidecar, "error") == 2

    volume.publish({"config.yaml": config_text(other_upstream.url)})
    assert await watcher.poll() is True
    assert sidecar.config.routes[0].upstream == other_upstream.url


async def test_restart_only_settings_keep_running_values_with_a_warning(mounted, volume, upstream, caplog):
    sidecar, watcher = mounted
    before = sidecar.config
    changed = (
        config_text(
            upstream.url,
            upstream={"connect_timeout_seconds": 3},
            limits={"max_body_bytes": 4096, "max_header_bytes": 4096},
        )
        .replace("127.0.0.1:0", "127.0.0.1:1")
        .replace("drain_seconds: 2", "drain_seconds: 9")
    )
    volume.publish({"config.yaml": changed})
    with caplog.at_level(logging.WARNING, logger="sidecar"):
        assert await watcher.poll() is True
    after = sidecar.config
    assert after.listen == before.listen
    assert after.upstream == before.upstream
    assert after.shutdown == before.shutdown
    assert after.limits.max_header_bytes == before.limits.max_header_bytes
    assert after.limits.max_body_bytes == 4096, "the body limit is read per request: it applies live"
    [warning] = [r for r in caplog.records if getattr(r, "event", None) == "config_restart_required"]
    assert warning.fields == [
        "listen.proxy",
        "listen.admin",
        "upstream",
        "limits.max_header_bytes",
        "shutdown.drain_seconds",
    ]
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(sidecar) + "/v1/chat/completions", data=b"x" * 5000) as r:
            assert r.status == 413
        async with s.get(admin_url(sidecar) + "/debug/config") as r:
            shown = await r.json()
    assert shown["listen"] == before.listen.model_dump()
    assert shown["limits"]["max_body_bytes"] == 4096


async def test_in_flight_stream_survives_a_reload(mounted, volume, upstream, other_upstream):
    sidecar, watcher = mounted
    async with aiohttp.ClientSession() as s:
        stream = await s.post(base_url(sidecar) + "/v1/sse?n=6&delay=0.1", data=b"{}")
        first = await stream.content.readany()
        assert first.startswith(b"data: ")

        volume.publish({"config.yaml": config_text(other_upstream.url)})
        assert await watcher.poll() is True
        assert await get(s, base_url(sidecar) + "/v1/chat/completions") == 200
        assert [r.raw_path for r in other_upstream.received] == ["/v1/chat/completions"]

        body = first + await stream.read()
        stream.release()
    assert stream.status == 200
    assert body.count(b"data: ") == 7 and body.endswith(b"data: [DONE]\n\n")
    assert len(upstream.sse_sent_at) == 6, "the stream kept its original upstream to the end"


async def test_a_request_keeps_the_config_it_started_with(mounted, volume, upstream):
    """The swap is atomic per request: one already waiting on its upstream finishes under the old
    config even where the new one would act differently (here: debug response headers)."""
    sidecar, watcher = mounted
    async with aiohttp.ClientSession() as s:
        slow = asyncio.ensure_future(s.post(base_url(sidecar) + "/v1/slow?delay=0.5", data=b"{}"))
        for _ in range(100):
            if upstream.received:
                break
            await asyncio.sleep(0.01)
        assert upstream.received, "the slow request reached the upstream before the reload"
        volume.publish({"config.yaml": config_text(upstream.url, debug={"response_headers": True})})
        assert await watcher.poll() is True
        async with await slow as old, s.post(base_url(sidecar) + "/v1/chat/completions", data=b"{}") as new:
            assert old.status == new.status == 200
            assert "x-sidecar-request-id" not in old.headers
            assert "x-sidecar-request-id" in new.headers


async def test_watcher_task_polls_on_its_own_and_survives_an_error(
    volume, upstream, other_upstream, monkeypatch, caplog
):
    volume.publish({"config.yaml": config_text(upstream.url, reload={"poll_interval_seconds": 0.05})})
    path = volume.root / "config.yaml"
    sidecar = Sidecar(load_config(path, env={}), path, metrics=Metrics())
    polls = 0
    real_poll = ConfigWatcher.poll

    async def flaky_poll(self: ConfigWatcher) -> bool | None:
        nonlocal polls
        polls += 1
        if polls == 1:
            raise RuntimeError("disk on fire")
        return await real_poll(self)

    monkeypatch.setattr(ConfigWatcher, "poll", flaky_poll)
    await sidecar.start()
    try:
        with caplog.at_level(logging.WARNING, logger="sidecar"):
            async with ConfigWatcher(sidecar.state, path, env={}):
                volume.publish({"config.yaml": config_text(other_upstream.url)})
                for _ in range(200):
                    if reloads(sidecar, "success"):
                        break
                    await asyncio.sleep(0.05)
        assert sidecar.config.routes[0].upstream == other_upstream.url
        [error] = [r for r in caplog.records if getattr(r, "event", None) == "config_watch_error"]
        assert error.error == "RuntimeError: disk on fire"
        # The new file dropped the short interval: the watcher follows the live setting.
        assert sidecar.config.reload.poll_interval_seconds == 2.0
    finally:
        await sidecar.stop()


async def test_sighup_reloads_a_running_process(tmp_path, upstream, other_upstream):
    config: dict[str, Any] = {
        "routes": [{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
        "reload": {"watch": False},  # so only the signal can be what reloads it
        "shutdown": {"drain_seconds": 2},
    }
    sp = await start_sidecar_process(tmp_path, config)
    path = tmp_path / "sidecar.yaml"
    try:
        path.write_text(config_text(other_upstream.url, reload={"watch": False}))
        sp.proc.send_signal(signal.SIGHUP)
        reloaded = await sp.wait_for_event("config_reloaded")
        assert reloaded["trigger"] == "signal"
        assert reloaded["changed"] == ["routes"]
        async with aiohttp.ClientSession() as s:
            assert await get(s, sp.proxy + "/v1/chat/completions") == 200
            assert len(other_upstream.received) == 1 and not upstream.received

            path.write_text("routes: 7\n")
            sp.proc.send_signal(signal.SIGHUP)
            failed = await sp.wait_for_event("config_reload_failed")
            assert failed["level"] == "error"
            assert failed["errors"][0].startswith(f"{path}:1: routes:")
            assert await get(s, sp.proxy + "/v1/chat/completions") == 200
            async with s.get(sp.admin + "/metrics") as r:
                text = await r.text()
        assert 'sidecar_config_reloads_total{result="success"} 1.0' in text
        assert 'sidecar_config_reloads_total{result="error"} 1.0' in text
        assert len(other_upstream.received) == 2
    finally:
        sp.proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(sp.proc.wait(), 10) == 0
