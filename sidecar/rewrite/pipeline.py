"""From raw request bytes to the bytes to forward: decide, then encode only when something changed.

This is the one entry point the HTTP handler calls; it stays free of I/O so `explain`, dry-run and
tests see exactly what the hot path does.
"""

from __future__ import annotations

from dataclasses import dataclass

from sidecar.config import Dialect, SidecarConfig
from sidecar.rewrite.engine import Change

__all__ = ["Prepared", "RequestPipeline"]


@dataclass(frozen=True, slots=True)
class Prepared:
    """What to forward, and why."""

    body: bytes
    changes: tuple[Change, ...] = ()
    family: str = "unknown"
    # The target model as the request named it (metrics label it only if allowlisted).
    model: str | None = None
    # Why the body was forwarded without being examined (not_json, parse_error, ...), if it was.
    passthrough: str | None = None
    # True when `body` is a decoded form of a Content-Encoded original: drop Content-Encoding.
    decoded: bool = False

    @property
    def modified(self) -> bool:
        return bool(self.changes) or self.decoded


class RequestPipeline:
    """Compiled once per config (and per reload); shared by every request."""

    def __init__(self, config: SidecarConfig) -> None:
        self.config = config

    def prepare(
        self,
        dialect: Dialect,
        path: str,
        content_type: str | None,
        content_encoding: str | None,
        body: bytes,
        dry_run: bool = False,
    ) -> Prepared:
        """Bodies are forwarded byte for byte until the rewrite engine is wired in."""
        return Prepared(body=body)
