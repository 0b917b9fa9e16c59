"""Metric names, label bounds and what one finished request adds to each series."""

from __future__ import annotations

import pytest

from sidecar.config import SidecarConfig
from sidecar.metrics import DURATION_BUCKETS, OVERHEAD_BUCKETS, BoundedLabel, Metrics
from sidecar.observe import RequestRecord, SseEventCounter, finish_request
from sidecar.rewrite.engine import Change
from tests.scrape import names, parse, series, total, value


def config(**sections) -> SidecarConfig:
    sections.setdefault(
        "routes",
        [
            {"prefix": "/v1", "upstream": "http://127.0.0.1:1", "dialect": "openai", "name": "openai"},
            {"prefix": "/dry", "upstream": "http://127.0.0.1:1", "dialect": "openai", "dry_run": True},
        ],
    )
    return SidecarConfig.model_validate(sections)


@pytest.fixture
def metrics() -> Metrics:
    m = Metrics()
    m.allow_rules(
        [
            ("openai-reasoning", "openai.max_tokens_rename", "rename"),
            ("claude", "claude.drop_temperature", "drop"),
        ]
    )
    m.configure(config(metrics={"model_labels": ["gpt-5"]}))
    return m


def samples(m: Metrics):
    return parse(m.exposition().decode())


def test_exposition_names_follow_prometheus_conventions(metrics):
    finish_request(metrics, RequestRecord(request_id="r0", method="GET", route="openai", status=200))
    got = names(samples(metrics))
    for counter in (
        "sidecar_requests",
        "sidecar_rewrites",
        "sidecar_upstream_errors",
        "sidecar_passthrough",
        "sidecar_stream_events",
        "sidecar_config_reloads",
    ):
        assert f"{counter}_total" in got
        assert f"{counter}_created" not in got
    assert "sidecar_build_info" in got
    assert "sidecar_config_last_reload_success_timestamp_seconds" in got
    assert all(n.startswith("sidecar_") for n in got)


def test_histogram_buckets_span_the_budgets():
    assert OVERHEAD_BUCKETS[0] == 0.00005
    assert OVERHEAD_BUCKETS[-1] == 0.1
    assert DURATION_BUCKETS[-1] == 600
    assert list(OVERHEAD_BUCKETS) == sorted(OVERHEAD_BUCKETS)
    assert list(DURATION_BUCKETS) == sorted(DURATION_BUCKETS)


def test_known_label_sets_exist_before_any_request(metrics):
    s = samples(metrics)
    for route in ("openai", "dry"):
        assert ("sidecar_requests_in_flight", frozenset({("route", route)})) in s
        assert ("sidecar_streams_active", frozenset({("route", route)})) in s
        for reason in ("connect", "tls", "timeout", "reset", "client_disconnect"):
            assert ("sidecar_upstream_errors_total", frozenset({("route", route), ("reason", reason)})) in s
        assert value(s, "sidecar_overhead_seconds_count", route=route) == 0
    enforce = series(s, "sidecar_rewrites_total")
    assert {
        "route": "openai",
        "family": "claude",
        "rule": "claude.drop_temperature",
        "action": "drop",
        "mode": "enforce",
        "model": "other",
    } in enforce
    # A dry-run route pre-initialises its rewrites in dry-run mode only.
    assert {r["mode"] for r in enforce if r["route"] == "dry"} == {"dry_run"}
    assert value(s, "sidecar_config_reloads_total", result="error") == 0


def test_finish_request_counts_each_change_record(metrics):
    rec = RequestRecord(
        request_id="r1", method="POST", route="openai", family="openai-reasoning", model="gpt-5"
    )
    rec.status, rec.upstream_status, rec.overhead, rec.first_byte = 200, 200, 0.0003, 0.2
    rec.changes = (
        Change("openai.max_tokens_rename", "rename", "max_tokens", 100, 100),
        Change("openai.max_tokens_rename", "rename", "max_tokens", 100, 100),
        Change("made.up.rule", "drop", "temperature", 0.2, None),
    )
    finish_request(metrics, rec)
    s = samples(metrics)
    common = {"route": "openai", "family": "openai-reasoning", "mode": "enforce", "model": "gpt-5"}
    assert value(s, "sidecar_rewrites_total", rule="openai.max_tokens_rename", action="rename", **common) == 2
    assert value(s, "sidecar_rewrites_total", rule="other", action="drop", **common) == 1
    assert value(s, "sidecar_requests_total", route="openai", code="200", family="openai-reasoning") == 1
    assert value(s, "sidecar_overhead_seconds_bucket", route="openai", le="0.0005") == 1
    assert value(s, "sidecar_overhead_seconds_bucket", route="openai", le="0.00025") == 0
    assert value(s, "sidecar_upstream_first_byte_seconds_count", route="openai") == 1
    assert value(s, "sidecar_request_duration_seconds_count", route="openai", stream="false") == 1


def test_dry_run_changes_are_counted_apart(metrics):
    rec = RequestRecord(
        request_id="r2", method="POST", route="dry", family="claude", dry_run=True, status=200
    )
    rec.changes = (Change("claude.drop_temperature", "drop", "temperature", 1, None),)
    finish_request(metrics, rec)
    s = samples(metrics)
    assert (
        value(s, "sidecar_rewrites_total", route="dry", rule="claude.drop_temperature", mode="dry_run") == 1
    )
    assert total(s, "sidecar_rewrites_total", mode="enforce") == 0


def test_unbounded_values_collapse_to_other(metrics):
    for i in range(500):
        rec = RequestRecord(
            request_id=str(i), method="POST", route="openai", family=f"fam-{i}", model=f"m-{i}"
        )
        rec.status = 1000 + i  # not an HTTP status
        rec.error = f"weird-{i}"
        rec.passthrough = f"why-{i}"
        rec.changes = (Change(f"rule-{i}", f"act-{i}", "x"),)
        finish_request(metrics, rec)
    s = samples(metrics)
    assert series(s, "sidecar_requests_total") == [
        {"route": "openai", "family": "other", "code": "other", "model": "other"}
    ]
    assert value(s, "sidecar_requests_total", route="openai") == 500
    assert value(s, "sidecar_upstream_errors_total", route="openai", reason="other") == 500
    assert value(s, "sidecar_passthrough_total", route="openai", reason="other") == 500
    assert (
        value(s, "sidecar_rewrites_total", route="openai", rule="other", action="other", family="other")
        == 500
    )


def test_bounded_label():
    label = BoundedLabel(["a"])
    label.allow(["b"])
    assert (label("a"), label("b"), label("c"), label(None)) == ("a", "b", "other", "other")


def test_record_reload(metrics):
    before = samples(metrics)
    metrics.record_reload(False)
    s = samples(metrics)
    assert value(s, "sidecar_config_reloads_total", result="error") == 1
    assert value(s, "sidecar_config_last_reload_successful") == 0
    assert value(s, "sidecar_config_last_reload_success_timestamp_seconds") == value(
        before, "sidecar_config_last_reload_success_timestamp_seconds"
    )
    metrics.record_reload(True)
    s = samples(metrics)
    assert value(s, "sidecar_config_reloads_total", result="success") == 1
    assert value(s, "sidecar_config_last_reload_successful") == 1


def test_stream_events_counted_on_finish(metrics):
    rec = RequestRecord(request_id="s", method="POST", route="openai", status=200, stream=True)
    rec.sse = SseEventCounter()
    rec.sse.feed(b"data: 1\n\ndata: 2\n\n")
    finish_request(metrics, rec)
    s = samples(metrics)
    assert value(s, "sidecar_stream_events_total", route="openai") == 2
    assert value(s, "sidecar_request_duration_seconds_count", route="openai", stream="true") == 1


STREAM = b'data: {"a": 1}\n\n: keep-alive\n\nevent: done\ndata: [DONE]\n\n'


@pytest.mark.parametrize("stream", [STREAM, STREAM.replace(b"\n", b"\r\n")], ids=["lf", "crlf"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, len(STREAM)])
def test_sse_event_counter_finds_terminators_across_any_split(stream, size):
    counter = SseEventCounter()
    for i in range(0, len(stream), size):
        counter.feed(stream[i : i + size])
    assert counter.events == 3


def test_child_is_the_labelled_series_memoised(metrics):
    first = metrics.child(
        metrics.rewrites, "openai", "claude", "claude.drop_temperature", "drop", "enforce", "other"
    )
    assert first is metrics.rewrites.labels(
        route="openai",
        family="claude",
        rule="claude.drop_temperature",
        action="drop",
        mode="enforce",
        model="other",
    )
    assert (
        metrics.child(
            metrics.rewrites, "openai", "claude", "claude.drop_temperature", "drop", "enforce", "other"
        )
        is first
    )
    assert metrics.child(metrics.in_flight, "openai") is not metrics.child(metrics.in_flight, "dry")
