"""`sidecar explain` and `POST /debug/explain` give the answer the hot path gives."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import orjson
import pytest
import yaml

from sidecar.cli import main
from tests.conftest import admin_url, base_url

LEGACY = {
    "model": "o4-mini",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 512,
    "temperature": 0.2,
}
CONFIG = {
    "routes": [
        {"prefix": "/v1", "upstream": "http://127.0.0.1:9", "dialect": "openai", "name": "openai"},
        {"prefix": "/openai/deployments", "upstream": "http://127.0.0.1:9", "dialect": "azure", "name": "azure"},
        {"prefix": "/shadow", "upstream": "http://127.0.0.1:9", "dialect": "openai", "name": "shadow",
         "strip_prefix": True, "dry_run": True},
    ],
    "aliases": {"prod-reasoner": "o4-mini"},
}  # fmt: skip


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    config = tmp_path / "sidecar.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    request = tmp_path / "request.json"
    request.write_bytes(orjson.dumps(LEGACY))
    return config, request


def test_cli_explain_text(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, request = files
    assert main(["explain", "--config", str(config), str(request)]) == 0
    out = capsys.readouterr().out
    assert "family:   openai-o-series" in out
    assert (
        "openai-max-tokens-to-max-completion-tokens: rename max_tokens -> max_completion_tokens: 512 -> 512"
        in out
    )
    assert "[provider-rules.md §1.1, §1.2, §1.3]" in out
    assert "forwarded: rewritten" in out
    assert '"max_completion_tokens": 512' in out


def test_cli_explain_json_for_an_azure_deployment(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, request = files
    request.write_bytes(orjson.dumps({k: v for k, v in LEGACY.items() if k != "model"}))
    path = "/openai/deployments/prod-reasoner/chat/completions"
    assert main(["explain", "--config", str(config), "--path", path, "--json", str(request)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["route"] == "azure"
    assert report["profile"] == {
        "model": "prod-reasoner",
        "canonical": "o4-mini",
        "family": "openai-o-series",
        "source": "url+alias",
        "capabilities": report["profile"]["capabilities"],
    }
    assert report["profile"]["capabilities"]["output_limit_field"] == "max_completion_tokens"
    assert [c["rule"] for c in report["changes"]] == [
        "openai-max-tokens-to-max-completion-tokens",
        "openai-temperature-default-only",
    ]
    assert report["body"] == {"messages": LEGACY["messages"], "max_completion_tokens": 512}


def test_cli_explain_dry_run_route(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, request = files
    assert main(["explain", "--config", str(config), "--route", "shadow", "--json", str(request)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == "/chat/completions"  # the shadow route strips its prefix
    assert report["dry_run"] is True
    assert report["forwarded"] == "original (dry-run)"
    assert report["changes"]


def test_cli_explain_errors(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    config, request = files
    assert main(["explain", "--config", str(config), "--route", "nope", str(request)]) == 2
    assert "no route is named 'nope'" in capsys.readouterr().err
    assert main(["explain", "--config", str(config), str(request.with_name("missing.json"))]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_check_reports_rule_pack_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pack = tmp_path / "pack.yaml"
    pack.write_text("rules:\n  - id: mine\n    reason: x\n    source: y\n    actions: [{op: drop}]\n")
    config = tmp_path / "sidecar.yaml"
    config.write_text(
        yaml.safe_dump({"rules": {"packs": ["pack.yaml"], "disable": ["openai-penalties-unsupported"]}})
    )
    assert main(["check", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"{pack}:5: rules[0] (mine).actions[0].path: Field required" in err
    pack.write_text("rules: []\n")
    assert main(["check", str(config)]) == 0
    assert "rules: 1 operator pack(s), 1 disabled, 0 policies" in capsys.readouterr().out


async def test_admin_explain_matches_what_the_proxy_forwards(upstream, make_sidecar) -> None:
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai", "name": "openai"}]
    )
    raw = orjson.dumps(LEGACY)
    async with aiohttp.ClientSession() as session:
        async with session.post(
            admin_url(sidecar) + "/debug/explain",
            params={"route": "openai", "path": "/v1/chat/completions"},
            data=raw,
            headers={"Content-Type": "application/json"},
        ) as r:
            assert r.status == 200
            report = await r.json()
        async with session.post(
            base_url(sidecar) + "/v1/chat/completions", data=raw, headers={"Content-Type": "application/json"}
        ) as r:
            assert r.status == 200
        async with session.post(
            admin_url(sidecar) + "/debug/explain", params={"route": "zzz"}, data=raw
        ) as r:
            assert r.status == 400
            assert (await r.json())["error"]["code"] == "explain_error"
    assert report["profile"]["family"] == "openai-o-series"
    assert orjson.loads(upstream.received[-1].body) == report["body"]
    assert upstream.received[-1].body == orjson.dumps(report["body"])
    assert len(upstream.received) == 1  # explain never forwards anything
