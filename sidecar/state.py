"""The running sidecar's state: what one config compiles to, swapped whole on reload."""

from __future__ import annotations

from dataclasses import dataclass, field

from sidecar.config import SidecarConfig
from sidecar.metrics import Metrics
from sidecar.rewrite.pipeline import RequestPipeline
from sidecar.routing import Router

__all__ = ["Runtime", "SidecarState"]


@dataclass(frozen=True)
class Runtime:
    """Everything derived from one config. Immutable: a reload builds a new one and swaps it in,
    so a request in flight keeps the runtime it started with."""

    config: SidecarConfig
    router: Router
    pipeline: RequestPipeline

    @classmethod
    def build(cls, config: SidecarConfig) -> Runtime:
        return cls(config=config, router=Router(config.routes), pipeline=RequestPipeline(config))


@dataclass
class SidecarState:
    """Process-wide state shared by the proxy and admin listeners."""

    runtime: Runtime
    metrics: Metrics = field(default_factory=Metrics)
    ready: bool = False
    draining: bool = False
    in_flight: int = 0
