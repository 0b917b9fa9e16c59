"""Operator rule packs through a reload: a fixed pack takes effect, a broken one is refused."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import orjson
import yaml

from sidecar.config import load_config
from sidecar.metrics import Metrics
from sidecar.reload import ConfigWatcher
from sidecar.server import Sidecar
from tests.conftest import base_url

PACK = """\
rules:
  - id: acme-drop-user
    reason: our upstream rejects the user field
    source: ops ticket 42
    when: {families: [openai-chat], present: [user]}
    actions: [{op: drop, path: user}]
"""


async def send(sidecar: Sidecar) -> None:
    body = orjson.dumps({"model": "gpt-4o", "messages": [], "user": "u-1"})
    async with aiohttp.ClientSession() as s:
        async with s.post(
            base_url(sidecar) + "/v1/chat/completions",
            data=body,
            headers={"Content-Type": "application/json"},
        ) as r:
            assert r.status == 200


async def test_pack_change_applies_on_reload_and_a_broken_pack_keeps_the_old_rules(
    tmp_path: Path, upstream, caplog
) -> None:
    pack = tmp_path / "packs" / "acme.yaml"
    pack.parent.mkdir()
    pack.write_text("rules: []\n")
    config = tmp_path / "sidecar.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "listen": {"proxy": "127.0.0.1:0", "admin": "127.0.0.1:0"},
                "routes": [{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
                "rules": {"packs": ["packs/acme.yaml"]},
                "shutdown": {"drain_seconds": 1},
            }
        )
    )
    sidecar = Sidecar(load_config(config, env={}), config, metrics=Metrics())
    await sidecar.start()
    try:
        watcher = ConfigWatcher(sidecar.state, config, env={})
        await send(sidecar)
        assert orjson.loads(upstream.received[-1].body)["user"] == "u-1"

        pack.write_text(PACK)
        assert await watcher.reload("signal") is True
        await send(sidecar)
        assert "user" not in orjson.loads(upstream.received[-1].body)

        pack.write_text(PACK.replace("op: drop", "op: explode"))
        with caplog.at_level(logging.WARNING, logger="sidecar"):
            assert await watcher.reload("signal") is False
        [failed] = [r for r in caplog.records if getattr(r, "event", None) == "config_reload_failed"]
        assert any(e.startswith(f"{pack}:6: rules[0] (acme-drop-user).actions[0]") for e in failed.errors)
        await send(sidecar)
        assert "user" not in orjson.loads(upstream.received[-1].body)  # the previous rules still apply
    finally:
        await sidecar.stop()
