"""The shipped Grafana dashboard and Prometheus alerts read metrics the sidecar really exposes.

Structure is checked in Python on every run. When `promtool` is installed (Debian: `apt-get install
prometheus`; or set PROMTOOL to its path) the rules also go through `promtool check rules`, the alert
unit tests in alerts.test.yaml through `promtool test rules`, and every dashboard query through the
PromQL parser (as recording rules); without it those tests skip and say why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import admin_url, base_url

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "sidecar-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
ALERT_TESTS = DEPLOY / "prometheus" / "alerts.test.yaml"
# Series Prometheus itself makes for every target.
PROMETHEUS_OWN = {"up"}
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
_PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "group_left", "group_right"}


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers not called as functions, outside strings,
    label matchers, range brackets and grouping clauses."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"(?<![\w$.:])[A-Za-z_:][\w:]*", e):
        if e[m.end() :].lstrip().startswith("(") or m.group().lower() in _PROMQL_WORDS:
            continue
        names.add(m.group())
    return names


def test_metric_names_extractor():
    expr = (
        'histogram_quantile(0.99, sum by (le, route) (rate(sidecar_overhead_seconds_bucket{job=~"$job", x="a{b}"}[5m])))'
        " / on (route) group_left sum without (code) (sidecar_requests_total) > bool 1e-3 and up"
    )
    assert metric_names(expr) == {"sidecar_overhead_seconds_bucket", "sidecar_requests_total", "up"}


@pytest.fixture
async def exposed(upstream, make_sidecar) -> set[str]:
    """Every sample name a live sidecar exposes on /metrics after real traffic, plus the sample
    names of families that have no series yet (e.g. rewrites before the first change)."""
    sidecar = await make_sidecar(routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}])
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(sidecar) + "/v1/chat/completions", data=b'{"model":"gpt-4o"}') as r:
            assert r.status == 200
        async with s.post(base_url(sidecar) + "/v1/sse?n=2&delay=0", data=b"{}") as r:
            await r.read()
        async with s.get(admin_url(sidecar) + "/metrics") as r:
            text = await r.text()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(s.name for s in family.samples)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    assert "sidecar_overhead_seconds_bucket" in names
    return names


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[tuple[str, str]]:
    return [
        (panel["title"], target["expr"])
        for panel in dashboard()["panels"]
        for target in panel.get("targets", [])
    ]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def test_dashboard_structure():
    d = dashboard()
    assert d["uid"] == "llm-sidecar"
    assert isinstance(d["schemaVersion"], int)
    variables = {v["name"] for v in d["templating"]["list"]}
    assert variables == {"datasource", "job", "route"}
    ids = [p["id"] for p in d["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: set[tuple[int, int]] = set()
    for panel in d["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        cells = {
            (x, y) for x in range(pos["x"], pos["x"] + pos["w"]) for y in range(pos["y"], pos["y"] + pos["h"])
        }
        assert not cells & occupied, f"panel {panel['title']!r} overlaps another"
        occupied |= cells
        if panel["type"] == "row":
            continue
        assert panel["type"] in ("timeseries", "stat"), panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["description"], panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs))
        for target in panel["targets"]:
            used = set(re.findall(r"\$(\w+)", target["expr"])) - {"__rate_interval"}
            assert used <= variables, (panel["title"], used)
            assert target["expr"].count("(") == target["expr"].count(")")


def test_dashboard_covers_what_the_issue_asks_for():
    titles = {title for title, _ in dashboard_exprs()}
    assert {
        "Rewrites by rule",
        "Rewrites by model family",
        "Sidecar overhead p50 / p99",
        "Upstream errors",
        "Requests in flight and active streams",
        "Requests by status code",
    } <= titles
    overhead = [e for t, e in dashboard_exprs() if t == "Sidecar overhead p50 / p99"]
    assert [e.split(",")[0] for e in overhead] == ["histogram_quantile(0.5", "histogram_quantile(0.99"]


def test_every_dashboard_query_reads_exposed_metrics(exposed):
    for title, expr in dashboard_exprs():
        names = metric_names(expr)
        assert names, (title, expr)
        assert names <= exposed, (title, names - exposed)


def test_every_exposed_metric_is_on_the_dashboard(exposed):
    on_dashboard = {n for _, e in dashboard_exprs() for n in metric_names(e)}
    families = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in exposed}
    shown = {re.sub(r"_(total|bucket|count|sum)$", "", n) for n in on_dashboard}
    assert families - shown == set()


def test_alert_rules_structure_and_metrics(exposed):
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names))
    assert {
        "SidecarDown",
        "SidecarErrorRatioHigh",
        "SidecarOverheadHigh",
        "SidecarConfigReloadFailing",
    } <= set(names)
    for rule in rules:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")"), rule["alert"]
        used = metric_names(expr)
        assert used and used <= exposed | PROMETHEUS_OWN, (rule["alert"], used - exposed)


def promtool() -> str:
    path = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not path:
        pytest.skip("promtool not installed (apt-get install prometheus, or set PROMTOOL); Python checks ran")
    return path


def run_promtool(*args: str, cwd: Path) -> None:
    result = subprocess.run([promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_checks_the_alert_rules():
    run_promtool("check", "rules", ALERTS.name, cwd=ALERTS.parent)


def test_promtool_runs_the_alert_unit_tests():
    run_promtool("test", "rules", ALERT_TESTS.name, cwd=ALERT_TESTS.parent)


def test_promtool_parses_every_dashboard_query(tmp_path):
    grafana_vars = {"$__rate_interval": "5m", "$job": ".*", "$route": ".*"}
    rules = []
    for i, (_, expr) in enumerate(dashboard_exprs()):
        for var, value in grafana_vars.items():
            expr = expr.replace(var, value)
        rules.append({"record": f"dashboard:query_{i}", "expr": expr})
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    run_promtool("check", "rules", path.name, cwd=tmp_path)
