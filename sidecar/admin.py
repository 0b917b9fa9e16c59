"""The operator-facing listener: probes, metrics and debug views. Never touches an upstream."""

from __future__ import annotations

import orjson
from aiohttp import web

from sidecar.config import redacted
from sidecar.metrics import CONTENT_TYPE_LATEST
from sidecar.state import SidecarState

__all__ = ["build_admin_app"]

ADMIN_STATE = web.AppKey("admin_state", SidecarState)


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


async def healthz(request: web.Request) -> web.Response:
    """Liveness: the process and its event loop answer. Nothing else is checked on purpose."""
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """Readiness: config loaded, proxy listener bound, not draining. Providers are not consulted."""
    state = request.app[ADMIN_STATE]
    if state.draining:
        return _json({"status": "draining"}, 503)
    if not state.ready:
        return _json({"status": "starting"}, 503)
    return _json({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    state = request.app[ADMIN_STATE]
    return web.Response(body=state.metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def debug_config(request: web.Request) -> web.Response:
    """The effective config (file + defaults + env), with secrets masked."""
    state = request.app[ADMIN_STATE]
    return _json(redacted(state.runtime.config.model_dump(mode="json")))


async def debug_explain(request: web.Request) -> web.Response:
    """`POST /debug/explain?route=R&path=P` with a request body: what the proxy would do to it.
    The same decision function as the hot path; the body is not forwarded anywhere."""
    from sidecar.explain import ExplainError, explain

    runtime = request.app[ADMIN_STATE].runtime
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return _json({"error": {"message": "request body too large", "code": "request_too_large"}}, 413)
    try:
        report = explain(
            runtime.pipeline,
            runtime.router,
            body,
            route=request.query.get("route"),
            path=request.query.get("path"),
            content_type=request.headers.get("Content-Type"),
            content_encoding=request.headers.get("Content-Encoding"),
        )
    except ExplainError as exc:
        return _json({"error": {"message": str(exc), "code": "explain_error"}}, 400)
    return _json(report)


def build_admin_app(state: SidecarState) -> web.Application:
    # /debug/explain takes request bodies as large as the proxy accepts.
    app = web.Application(client_max_size=state.runtime.config.limits.max_body_bytes)
    app[ADMIN_STATE] = state
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/debug/config", debug_config)
    app.router.add_post("/debug/explain", debug_explain)
    return app
