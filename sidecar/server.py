"""App factory and lifecycle: start both listeners, serve, drain gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from sidecar.admin import build_admin_app
from sidecar.config import SidecarConfig, parse_host_port
from sidecar.forward import CLIENT, EGRESS, STATE, EgressProxies, handle, make_client_session
from sidecar.logs import event
from sidecar.metrics import Metrics
from sidecar.reload import ConfigWatcher
from sidecar.state import Runtime, SidecarState

__all__ = ["Sidecar", "build_proxy_app", "serve"]


def build_proxy_app(state: SidecarState) -> web.Application:
    """The app-facing listener: every method and path goes to the one proxy handler."""
    app = web.Application(client_max_size=state.runtime.config.limits.max_body_bytes)
    app[STATE] = state

    async def client_session(app: web.Application) -> AsyncIterator[None]:
        app[CLIENT] = make_client_session(state.runtime.config.upstream)
        app[EGRESS] = EgressProxies(state.runtime.config.upstream.trust_env)
        yield
        await app[CLIENT].close()

    app.cleanup_ctx.append(client_session)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


class Sidecar:
    """Both listeners of one sidecar process, started and stopped together."""

    def __init__(
        self,
        config: SidecarConfig,
        config_path: Path | None = None,
        metrics: Metrics | None = None,
        reuse_port: bool = False,
    ) -> None:
        self.config_path = config_path
        self.reuse_port = reuse_port
        self.state = SidecarState(runtime=Runtime.build(config), metrics=metrics or Metrics())
        # The packs' (family, rule, action) label sets first: configure() pre-initialises them.
        self.state.metrics.allow_rules(self.state.runtime.pipeline.rule_labels())
        self.state.metrics.allow_families(self.state.runtime.pipeline.knowledge.by_id)
        self.state.metrics.configure(config)
        limits = config.limits
        self._proxy = web.AppRunner(
            build_proxy_app(self.state),
            handle_signals=False,
            access_log=None,
            # Cancel the handler when the client hangs up, so the upstream request is closed at
            # once instead of at the next chunk (which may be minutes away on a reasoning stream).
            handler_cancellation=True,
            shutdown_timeout=config.shutdown.drain_seconds,
            max_field_size=limits.max_header_bytes,
            max_line_size=limits.max_header_bytes,
            # Request bodies reach the pipeline as sent: it decodes Content-Encoding itself, within
            # the body limit, and forwards the original bytes when nothing changes. (aiohttp would
            # otherwise inflate them without a bound and leave the Content-Encoding header on.)
            auto_decompress=False,
        )
        self._admin = web.AppRunner(
            build_admin_app(self.state),
            handle_signals=False,
            access_log=None,
            shutdown_timeout=1.0,
            auto_decompress=False,  # /debug/explain decodes like the proxy does
        )
        self.proxy_address: tuple[str, int] = ("", 0)
        self.admin_address: tuple[str, int] = ("", 0)

    @property
    def config(self) -> SidecarConfig:
        return self.state.runtime.config

    async def start(self) -> None:
        listen = self.config.listen
        self.admin_address = await self._start(self._admin, listen.admin)
        self.proxy_address = await self._start(self._proxy, listen.proxy)
        self.state.ready = True
        event(
            "listening",
            proxy=f"{self.proxy_address[0]}:{self.proxy_address[1]}",
            admin=f"{self.admin_address[0]}:{self.admin_address[1]}",
            routes=[f"{r.prefix} -> {r.upstream} ({r.dialect.value})" for r in self.config.routes],
        )

    async def _start(self, runner: web.AppRunner, address: str) -> tuple[str, int]:
        host, port = parse_host_port(address)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_port=self.reuse_port or None)
        await site.start()
        bound = runner.addresses[0]
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        """Drain: readiness fails, the listener closes, in-flight requests get `drain_seconds`."""
        self.state.draining = True
        in_flight = self.state.in_flight
        event("draining", in_flight=in_flight, drain_seconds=self.config.shutdown.drain_seconds)
        await self._proxy.cleanup()
        await self._admin.cleanup()
        event("stopped", in_flight_at_drain=in_flight, still_in_flight=self.state.in_flight)


async def serve(
    config: SidecarConfig,
    config_path: Path | None = None,
    *,
    reuse_port: bool = False,
    on_listening: Callable[[], None] | None = None,
) -> int:
    """Run until SIGTERM or SIGINT, then drain and return the exit code. SIGHUP reloads the config,
    and so does a change to the file (see `sidecar.reload`). `on_listening` runs once both
    listeners are bound (a `--workers` parent learns that its worker is up)."""
    sidecar = Sidecar(config, config_path, reuse_port=reuse_port)
    watcher = ConfigWatcher(sidecar.state, config_path)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # Before listening: an early SIGHUP must queue a reload, not kill the process (its default).
    loop.add_signal_handler(signal.SIGHUP, watcher.request_reload)
    await sidecar.start()
    if on_listening is not None:
        on_listening()
    async with watcher:
        await stop.wait()
    await sidecar.stop()
    return 0
