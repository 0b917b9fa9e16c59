"""The end of every request: one record feeds the metrics and the access log line."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sidecar.logs import ACCESS
from sidecar.metrics import Metrics
from sidecar.rewrite.engine import Change

__all__ = ["RequestRecord", "finish_request"]


@dataclass(slots=True)
class RequestRecord:
    """What happened to one request; filled in by the handler as it goes."""

    request_id: str
    method: str
    route: str
    started: float = field(default_factory=time.perf_counter)
    family: str = "none"
    status: int = 0
    upstream_status: int | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    stream: bool = False
    changes: tuple[Change, ...] = ()
    dry_run: bool = False
    passthrough: str | None = None
    error: str | None = None
    # The proxy's own time: request received -> upstream request sent, plus header handling back.
    overhead: float = 0.0
    first_byte: float | None = None


def finish_request(metrics: Metrics, rec: RequestRecord) -> None:
    """Count the request and write its access line. Never sees bodies or credentials."""
    duration = time.perf_counter() - rec.started
    code = str(rec.status)
    metrics.requests.labels(route=rec.route, family=rec.family, code=code).inc()
    metrics.request_duration.labels(
        route=rec.route, family=rec.family, stream="true" if rec.stream else "false"
    ).observe(duration)
    if rec.upstream_status is not None:
        metrics.overhead.labels(route=rec.route).observe(rec.overhead)
    if rec.first_byte is not None:
        metrics.first_byte.labels(route=rec.route, family=rec.family).observe(rec.first_byte)
    if rec.error is not None:
        metrics.upstream_errors.labels(route=rec.route, reason=rec.error).inc()
    if rec.passthrough is not None:
        metrics.passthrough.labels(route=rec.route, reason=rec.passthrough).inc()
    mode = "dry_run" if rec.dry_run else "enforce"
    for change in rec.changes:
        metrics.rewrites.labels(
            route=rec.route, family=rec.family, rule=change.rule, action=change.action, mode=mode
        ).inc()
    if ACCESS.isEnabledFor(logging.INFO):
        ACCESS.info(
            "request",
            extra={
                "request_id": rec.request_id,
                "method": rec.method,
                "route": rec.route,
                "family": rec.family,
                "status": rec.status,
                "upstream_status": rec.upstream_status,
                "duration_s": round(duration, 6),
                "overhead_s": round(rec.overhead, 6),
                "bytes_in": rec.bytes_in,
                "bytes_out": rec.bytes_out,
                "stream": rec.stream,
                "rules": [c.rule for c in rec.changes],
                "dry_run": rec.dry_run,
                "passthrough": rec.passthrough,
                "error": rec.error,
            },
        )
