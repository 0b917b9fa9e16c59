"""Every Prometheus metric in one place, with label values drawn only from bounded sets.

Cardinality is bounded by construction: `route` comes from the config, `family`, `rule` and
`action` from registries filled at startup from the loaded rule packs, `model` from the operator's
allowlist (`metrics.model_labels`), reasons and results from fixed tuples below. Any other value is
reported as `other`, so a client sending 10,000 distinct model names adds no series.

Multi-process mode (several workers behind one port, `sidecar serve --workers N`): every worker
writes its samples to memory-mapped files in one shared directory and `/metrics` on any worker
merges them (prometheus-client's multiprocess mode). The interface for the process that starts the
workers is `prepare_multiprocess_dir()` (parent, before the first worker starts) and
`worker_exited(pid)` (parent, after reaping a worker); see their docstrings.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, values
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics import MetricWrapperBase, disable_created_metrics
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from sidecar import __version__

if TYPE_CHECKING:
    from sidecar.config import SidecarConfig

__all__ = [
    "CONTENT_TYPE_LATEST",
    "MULTIPROC_ENV",
    "OTHER",
    "BoundedLabel",
    "Metrics",
    "cleanup_multiprocess_dir",
    "multiprocess_dir",
    "prepare_multiprocess_dir",
    "worker_exited",
]

# `_created` series double the counter series and do not exist in multiprocess mode; without them a
# single process and a set of workers expose the same names.
disable_created_metrics()  # type: ignore[no-untyped-call]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# Reasoning streams run for minutes: durations go up to 10 minutes.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# The proxy's own work per request: 50 microseconds to 100 milliseconds.
OVERHEAD_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
)  # fmt: skip

OTHER = "other"
UPSTREAM_ERROR_REASONS = ("connect", "tls", "timeout", "reset", "client_disconnect")
PASSTHROUGH_REASONS = ("not_json", "parse_error", "too_large", "unknown_model", "signed_body")
RELOAD_RESULTS = ("success", "error")
MODES = ("enforce", "dry_run")
# Families the proxy itself reports before any pack is consulted: `none` (no body examined, e.g. a
# 404 or a GET) and `unknown` (a body whose model no family claims).
BUILTIN_FAMILIES = ("none", "unknown")
# The engine's action vocabulary (DESIGN.md §3, rewrite/rules.py); extended by `allow_rules`.
BUILTIN_ACTIONS = ("rename", "drop", "set", "clamp", "map", "move", "translate", "strip", "heal")
# HTTP status codes as label values; anything outside 100-599 (or 0: no status) is `other`.
_CODES = {status: str(status) for status in range(100, 600)}


def multiprocess_dir() -> Path | None:
    """The shared sample directory when multi-process mode is on (the env var is set), else None."""
    path = os.environ.get(MULTIPROC_ENV)
    return Path(path) if path else None


def prepare_multiprocess_dir(directory: str | Path | None = None) -> Path:
    """Turn on multi-process metrics for this process and every worker it starts afterwards.

    Call it ONCE in the parent (the process that forks or spawns the workers), before the first
    worker starts and before any `Metrics` is built. It creates the directory (a fresh temporary one
    when `directory` is None), removes stale `*.db` sample files from an earlier run (they would be
    summed into the new run's counters), and exports `PROMETHEUS_MULTIPROC_DIR`, which forked and
    spawned workers inherit. Each worker then builds its `Sidecar` as usual; its `Metrics` notices
    the variable and writes to the shared directory, and its `/metrics` serves the merged view.

    The parent must call `worker_exited(pid)` for every worker it reaps, so that the dead worker's
    in-flight and active-stream gauges stop counting. Counters and histograms of dead workers are
    kept on purpose: totals must not go backwards when a worker is replaced.
    """
    path = Path(directory) if directory is not None else Path(tempfile.mkdtemp(prefix="sidecar-metrics-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(path)
    _ensure_multiprocess_values()
    return path


def worker_exited(pid: int) -> None:
    """Parent, after reaping worker `pid`: drop its live gauges (in-flight, active streams)."""
    path = multiprocess_dir()
    if path is not None:
        mark_process_dead(pid, str(path))  # type: ignore[no-untyped-call]


def cleanup_multiprocess_dir(path: Path) -> None:
    """Parent, after the last worker exited: remove the sample directory."""
    shutil.rmtree(path, ignore_errors=True)


def _ensure_multiprocess_values() -> None:
    """prometheus-client picks its value store when first imported; if that happened before the
    env var was set, switch it now so metrics built from here on write to the shared files."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        values.ValueClass = values.MultiProcessValue()  # type: ignore[no-untyped-call]


_M = TypeVar("_M", bound=MetricWrapperBase)


class BoundedLabel:
    """A label's allowed values; anything else maps to `other`. Lookups are one dict access."""

    __slots__ = ("_allowed",)

    def __init__(self, initial: Iterable[str] = ()) -> None:
        self._allowed: dict[str, str] = {}
        self.allow(initial)

    def allow(self, names: Iterable[str]) -> None:
        for name in names:
            self._allowed[name] = name

    def __call__(self, value: str | None) -> str:
        if value is None:
            return OTHER
        return self._allowed.get(value, OTHER)


class Metrics:
    """The sidecar's metrics on their own registry (tests get a fresh one each).

    In multi-process mode the samples live in the shared directory instead and `exposition()`
    merges every worker's files; the registry is then only used for this process's bookkeeping.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir()
        if self.multiprocess_dir is not None:
            _ensure_multiprocess_values()
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self.families = BoundedLabel(BUILTIN_FAMILIES)
        self.rules = BoundedLabel()
        self.actions = BoundedLabel(BUILTIN_ACTIONS)
        self.models = BoundedLabel()
        self.upstream_error_reasons = BoundedLabel(UPSTREAM_ERROR_REASONS)
        self.passthrough_reasons = BoundedLabel(PASSTHROUGH_REASONS)
        # (family, rule, action) of the loaded packs: pre-initialised per route.
        self._known_rewrites: set[tuple[str, str, str]] = set()
        # Children by (metric, label values); bounded because every label value is.
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        r = self.registry
        self.build_info = Gauge(
            "sidecar_build_info",
            "Build information; always 1.",
            ["version"],
            registry=r,
            multiprocess_mode="max",
        )
        self.build_info.labels(version=__version__).set(1)
        self.requests = Counter(
            "sidecar_requests",
            "Requests answered, by route, target model family, HTTP status code and allowlisted model.",
            ["route", "family", "code", "model"],
            registry=r,
        )
        self.in_flight = Gauge(
            "sidecar_requests_in_flight",
            "Requests being handled now.",
            ["route"],
            registry=r,
            multiprocess_mode="livesum",
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
            "The sidecar's own time per request: received -> upstream request sent, plus response "
            "header handling; excludes time spent waiting on the upstream.",
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
            ["route", "family", "rule", "action", "mode", "model"],
            registry=r,
        )
        self.passthrough = Counter(
            "sidecar_passthrough",
            "Requests forwarded untouched because the body could not or must not be rewritten.",
            ["route", "reason"],
            registry=r,
        )
        self.streams_active = Gauge(
            "sidecar_streams_active",
            "SSE responses being relayed now.",
            ["route"],
            registry=r,
            multiprocess_mode="livesum",
        )
        # Kept because counting is read-only and cheap: see observe.SseEventCounter for the figures.
        self.stream_events = Counter(
            "sidecar_stream_events",
            "Server-sent events relayed (blank-line-terminated blocks, keep-alive comments included).",
            ["route"],
            registry=r,
        )
        self.config_reloads = Counter(
            "sidecar_config_reloads", "Config reload attempts by result.", ["result"], registry=r
        )
        self.config_last_reload_success = Gauge(
            "sidecar_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            registry=r,
            multiprocess_mode="max",
        )
        self.config_last_reload_successful = Gauge(
            "sidecar_config_last_reload_successful",
            "1 if the last config load or reload succeeded, else 0 (any live worker failing gives 0).",
            registry=r,
            multiprocess_mode="livemin",
        )
        self.config_last_reload_success.set_to_current_time()
        self.config_last_reload_successful.set(1)

    def configure(self, config: SidecarConfig) -> None:
        """At startup and after every successful reload: take the model allowlist, pre-initialise
        each route's label sets (with the route's own mode) so rates exist before the first event."""
        self.models = BoundedLabel(config.metrics.model_labels)  # replaced whole: a reload may shrink it
        self.preinitialise([r.label for r in config.routes], {r.label for r in config.routes if r.dry_run})

    def allow_families(self, families: Iterable[str]) -> None:
        """The model families of the loaded packs (call at startup and after a pack reload)."""
        self.families.allow(families)

    def allow_rules(self, rules: Iterable[tuple[str, str, str]]) -> None:
        """The loaded packs' rules as (family, rule id, action); also allows those families/actions."""
        for family, rule, action in rules:
            self.families.allow((family,))
            self.rules.allow((rule,))
            self.actions.allow((action,))
            self._known_rewrites.add((family, rule, action))

    def preinitialise(self, routes: Iterable[str], dry_run_routes: Iterable[str] = ()) -> None:
        """Create the known label sets up front so rates exist before the first event."""
        dry = set(dry_run_routes)
        for route in routes:
            self.in_flight.labels(route=route)
            self.overhead.labels(route=route)
            self.streams_active.labels(route=route)
            self.stream_events.labels(route=route)
            for passthrough in PASSTHROUGH_REASONS:
                self.passthrough.labels(route=route, reason=passthrough)
            for reason in UPSTREAM_ERROR_REASONS:
                self.upstream_errors.labels(route=route, reason=reason)
            mode = "dry_run" if route in dry else "enforce"
            for family, rule, action in self._known_rewrites:
                self.rewrites.labels(
                    route=route, family=family, rule=rule, action=action, mode=mode, model=OTHER
                )
        for result in RELOAD_RESULTS:
            self.config_reloads.labels(result=result)

    def record_reload(self, ok: bool) -> None:
        """One config reload attempt (server.py's reload path calls this)."""
        self.config_reloads.labels(result="success" if ok else "error").inc()
        self.config_last_reload_successful.set(1 if ok else 0)
        if ok:
            self.config_last_reload_success.set_to_current_time()

    def child(self, metric: _M, *values: str) -> _M:
        """`metric.labels(*values)` (values in declaration order), memoised: labels() validates and
        locks on every call (~1.5 us), a dict hit costs a tenth of that, and it runs several times
        per request."""
        key = (metric, values)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*values)
        return found

    @staticmethod
    def code_label(status: int) -> str:
        return _CODES.get(status, OTHER)

    def exposition(self) -> bytes:
        """The text exposition: this registry, or every worker's samples merged in multi-process mode."""
        if self.multiprocess_dir is None:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, str(self.multiprocess_dir))  # type: ignore[no-untyped-call]
        return generate_latest(merged)
