"""Every Prometheus metric in one place, with label values drawn only from bounded sets."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from sidecar import __version__

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

# Reasoning streams run for minutes: durations go up to 10 minutes.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# The proxy's own work per request: 50 microseconds to 100 milliseconds.
OVERHEAD_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
)  # fmt: skip

UPSTREAM_ERROR_REASONS = ("connect", "tls", "timeout", "reset", "client_disconnect")
PASSTHROUGH_REASONS = ("not_json", "parse_error", "too_large", "unknown_model", "signed_body")
RELOAD_RESULTS = ("success", "error")


class Metrics:
    """The sidecar's metrics on their own registry (tests get a fresh one each)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.build_info = Gauge("sidecar_build_info", "Build information; always 1.", ["version"], registry=r)
        self.build_info.labels(version=__version__).set(1)
        self.requests = Counter(
            "sidecar_requests",
            "Requests answered, by route, target model family and HTTP status code.",
            ["route", "family", "code"],
            registry=r,
        )
        self.in_flight = Gauge(
            "sidecar_requests_in_flight", "Requests being handled now.", ["route"], registry=r
        )
        self.upstream_errors = Counter(
            "sidecar_upstream_errors",
            "Upstream exchanges that failed, by reason.",
            ["route", "reason"],
            registry=r,
        )
        self.request_duration = Histogram(
            "sidecar_request_duration_seconds",
            "Time from request received to the last response byte sent.",
            ["route", "family", "stream"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "sidecar_overhead_seconds",
            "The sidecar's own time per request, excluding time spent waiting on the upstream.",
            ["route"],
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )

        self.first_byte = Histogram(
            "sidecar_upstream_first_byte_seconds",
            "Time from the upstream request sent to its response headers.",
            ["route", "family"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.rewrites = Counter(
            "sidecar_rewrites",
            "Changes made by the rewrite engine, one per change record; mode=dry_run when only recorded.",
            ["route", "family", "rule", "action", "mode"],
            registry=r,
        )
        self.passthrough = Counter(
            "sidecar_passthrough",
            "Requests forwarded untouched because the body could not or must not be rewritten.",
            ["route", "reason"],
            registry=r,
        )
        self.streams_active = Gauge(
            "sidecar_streams_active", "SSE responses being relayed now.", ["route"], registry=r
        )
        self.config_reloads = Counter(
            "sidecar_config_reloads", "Config reload attempts by result.", ["result"], registry=r
        )
        self.config_last_reload_success = Gauge(
            "sidecar_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            registry=r,
        )
        self.config_last_reload_success.set_to_current_time()

    def preinitialise(self, routes: list[str]) -> None:
        """Create the known label sets up front so rates exist before the first event."""
        for route in routes:
            self.in_flight.labels(route=route)
            self.overhead.labels(route=route)
            self.streams_active.labels(route=route)
            for passthrough in PASSTHROUGH_REASONS:
                self.passthrough.labels(route=route, reason=passthrough)
            for reason in UPSTREAM_ERROR_REASONS:
                self.upstream_errors.labels(route=route, reason=reason)

        for result in RELOAD_RESULTS:
            self.config_reloads.labels(result=result)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
