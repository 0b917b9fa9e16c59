"""Log lines: one JSON access line per request, one debug line per rewrite, nothing secret."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import orjson
import pytest

from sidecar.logs import configure_logging, loggable_value
from sidecar.metrics import Metrics
from sidecar.observe import RequestRecord, finish_request
from sidecar.rewrite.engine import Change

CANARY_KEY = "sk-canary-7f3a9c"
CANARY_TEXT = "body canary 1234"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    out = io.StringIO()
    yield out
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in saved[0]:
        root.addHandler(h)
    root.setLevel(saved[1])
    for name in ("sidecar", "sidecar.rewrite", "sidecar.access"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    logging.getLogger("sidecar.access").disabled = False


def lines(out: io.StringIO) -> list[dict]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


def record() -> RequestRecord:
    rec = RequestRecord(
        request_id="rid-7", method="POST", route="openai", family="claude", model="claude-opus-4-7"
    )
    rec.status, rec.upstream_status, rec.bytes_in, rec.bytes_out = 200, 200, 321, 654
    rec.changes = (
        Change("claude.drop_temperature", "drop", "temperature", 0.7, None),
        Change("claude.effort", "translate", "reasoning_effort", "high", {"type": "adaptive"}),
        Change("claude.system_move", "move", "messages[0].content", CANARY_TEXT, CANARY_TEXT),
        Change("x.weird", "set", "metadata.user", CANARY_KEY, None),
    )
    return rec


def test_access_line_has_every_field(captured):
    configure_logging("info", stream=captured)
    finish_request(Metrics(), record())
    (line,) = lines(captured)
    assert line["logger"] == "sidecar.access"
    assert line["level"] == "info"
    assert {
        k: line[k] for k in ("request_id", "route", "family", "model", "status", "bytes_in", "bytes_out")
    } == {
        "request_id": "rid-7",
        "route": "openai",
        "family": "claude",
        "model": "claude-opus-4-7",
        "status": 200,
        "bytes_in": 321,
        "bytes_out": 654,
    }
    assert line["rules"] == ["claude.drop_temperature", "claude.effort", "claude.system_move", "x.weird"]
    assert line["stream"] is False
    assert line["dry_run"] is False
    assert line["duration_s"] >= 0 and line["overhead_s"] >= 0


def test_rewrite_lines_only_at_debug_and_never_carry_content_or_keys(captured):
    configure_logging("info", stream=captured, loggers={"sidecar.rewrite": "debug"})
    finish_request(Metrics(), record())
    out = lines(captured)
    rewrites = [line for line in out if line["logger"] == "sidecar.rewrite"]
    assert [r["rule"] for r in rewrites] == [
        "claude.drop_temperature",
        "claude.effort",
        "claude.system_move",
        "x.weird",
    ]
    assert rewrites[0] | {"ts": 0} == {
        "ts": 0,
        "level": "debug",
        "logger": "sidecar.rewrite",
        "msg": "rewrite",
        "request_id": "rid-7",
        "route": "openai",
        "family": "claude",
        "rule": "claude.drop_temperature",
        "action": "drop",
        "path": "temperature",
        "before": 0.7,
        "after": None,
        "dry_run": False,
    }
    assert rewrites[1]["before"] == "high"
    assert rewrites[1]["after"] == "<object keys=1>"
    assert rewrites[2]["before"] == f"<str len={len(CANARY_TEXT)}>"
    assert CANARY_TEXT not in captured.getvalue()
    assert CANARY_KEY not in captured.getvalue()

    captured.truncate(0)
    captured.seek(0)
    configure_logging("info", stream=captured)
    finish_request(Metrics(), record())
    assert [line["logger"] for line in lines(captured)] == ["sidecar.access"]


def test_access_log_can_be_turned_off(captured):
    configure_logging("debug", access_log=False, stream=captured)
    finish_request(Metrics(), record())
    assert {line["logger"] for line in lines(captured)} == {"sidecar.rewrite"}


@pytest.mark.parametrize(
    ("path", "value", "shown"),
    [
        ("temperature", 0.2, 0.2),
        ("stream", True, True),
        ("max_tokens", None, None),
        ("reasoning_effort", "medium", "medium"),
        ("thinking.type", "adaptive", "adaptive"),
        ("model", "gpt-5-mini", "gpt-5-mini"),
        ("user", "sk-proj-abc", "<str len=11>"),
        ("user", "has spaces in it", "<str len=16>"),
        ("messages[0].content", "hello", "<str len=5>"),
        ("$.system", "short", "<str len=5>"),
        ("contents[1].parts", [1, 2], "<array len=2>"),
        ("tools", {"a": 1}, "<object keys=1>"),
        ("system -> messages[0]", "hello", "<str len=5>"),
        ("max_tokens -> max_completion_tokens", 50, 50),
        ("reasoning_effort -> thinking.type", "adaptive", "adaptive"),
    ],
)
def test_loggable_value(path, value, shown):
    assert loggable_value(path, value) == shown
