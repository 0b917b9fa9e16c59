"""Path prefix -> route. Only configured upstreams are ever reachable: no open proxy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from yarl import URL

from sidecar.config import Dialect, RouteConfig

__all__ = ["Route", "Router"]


@dataclass(frozen=True, slots=True)
class Route:
    """A compiled route: everything the hot path needs, precomputed once."""

    name: str
    prefix: str
    dialect: Dialect
    upstream: str  # scheme://host[:port][/base], no trailing slash
    strip_prefix: bool
    dry_run: bool

    @classmethod
    def from_config(cls, cfg: RouteConfig) -> Route:
        return cls(
            name=cfg.label,
            prefix=cfg.prefix,
            dialect=cfg.dialect,
            upstream=cfg.upstream,
            strip_prefix=cfg.strip_prefix,
            dry_run=cfg.dry_run,
        )

    def matches(self, path: str) -> bool:
        """Whole-segment prefix match: `/v1` matches `/v1` and `/v1/x`, never `/v10`."""
        prefix = self.prefix
        if prefix == "/":
            return True
        return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/")

    def upstream_path(self, raw_path: str) -> str:
        """The request's raw (still percent-encoded) path as the upstream should see it."""
        if self.strip_prefix and self.prefix != "/":
            raw_path = raw_path[len(self.prefix) :] or "/"
        return raw_path

    def upstream_url(self, raw_path: str, raw_query: str) -> URL:
        """Upstream base + path + query, kept byte for byte (`encoded=True` stops re-quoting)."""
        target = self.upstream + self.upstream_path(raw_path)
        if raw_query:
            target += "?" + raw_query
        return URL(target, encoded=True)


class Router:
    """Longest matching prefix wins; routes are tried from the most specific down."""

    def __init__(self, routes: Sequence[RouteConfig]) -> None:
        compiled = [Route.from_config(r) for r in routes]
        self.routes: tuple[Route, ...] = tuple(sorted(compiled, key=lambda r: -len(r.prefix)))
        self.by_name: dict[str, Route] = {r.name: r for r in compiled}

    def match(self, raw_path: str) -> Route | None:
        if not raw_path.startswith("/"):
            return None
        for route in self.routes:
            if route.matches(raw_path):
                return route
        return None
