"""The emulator's knobs, its request record, and the per-request overrides."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDictProxy

from sidecar.headers import SECRET_HEADERS

__all__ = ["CONFIG", "DEFAULT_DEPLOYMENTS", "EmulatorConfig", "RecordedRequest", "Tuning", "redact_headers"]

# Azure deployment names that hide the model they serve (§1.3): a name says nothing about the model.
DEFAULT_DEPLOYMENTS: Mapping[str, str] = {
    "prod-reasoner": "o4-mini",
    "gpt-o1": "o1",
    "team-chat": "gpt-4o",
    "summarizer": "gpt-5-mini",
}

# Bounds on per-request overrides, so a header cannot make the emulator hang or allocate wildly.
MAX_EVENTS = 10_000
MAX_DELAY = 10.0


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """How the emulator behaves. Every field has a default that suits tests."""

    host: str = "127.0.0.1"
    port: int = 0
    event_count: int = 8  # text pieces per answer; one SSE content event each
    event_delay: float = 0.0  # seconds between SSE events
    deployments: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_DEPLOYMENTS))
    require_auth: bool = True  # reject requests without the provider's credential header, as they do
    # Benchmarks: skip parsing and validation, answer pre-encoded bytes, record nothing.
    fast: bool = False
    max_records: int = 10_000  # oldest records are dropped beyond this


@dataclass(frozen=True, slots=True)
class Tuning:
    """Per-request overrides via `x-emulator-events` / `x-emulator-delay` request headers."""

    events: int
    delay: float

    @classmethod
    def of(cls, request: web.Request, config: EmulatorConfig) -> Tuning:
        events, delay = config.event_count, config.event_delay
        try:
            events = int(request.headers.get("x-emulator-events", events))
            delay = float(request.headers.get("x-emulator-delay", delay))
        except ValueError:
            pass  # a malformed override is ignored, not an error the provider would give
        return cls(events=min(max(events, 1), MAX_EVENTS), delay=min(max(delay, 0.0), MAX_DELAY))


def redact_headers(headers: CIMultiDictProxy[str]) -> list[tuple[str, str]]:
    """Headers as received, in order, with credential values masked (their presence is kept)."""
    return [(k, "<redacted>" if k.lower() in SECRET_HEADERS else v) for k, v in headers.items()]


@dataclass(slots=True)
class RecordedRequest:
    """One request as the emulator received it, before any validation."""

    method: str
    path: str  # raw, percent-encoding untouched
    query: str  # raw query string, without "?"
    headers: list[tuple[str, str]]  # credentials redacted
    body: bytes
    status: int | None = None  # what the emulator answered, once it has

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers if k.lower() == lower), None)

    def json(self) -> Any:
        """The body parsed as JSON (raises if it is not JSON)."""
        return orjson.loads(self.body)

    def to_dict(self) -> dict[str, Any]:
        """The HTTP form: exact bytes as base64, plus the parsed JSON when the body is JSON."""
        try:
            parsed: Any = orjson.loads(self.body) if self.body else None
        except orjson.JSONDecodeError:
            parsed = None
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body_base64": base64.b64encode(self.body).decode(),
            "json": parsed,
            "status": self.status,
        }


CONFIG = web.AppKey("emulator_config", EmulatorConfig)
