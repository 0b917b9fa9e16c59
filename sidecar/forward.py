"""The proxy handler: route, read, call the pipeline, send upstream, stream the answer back.

It decides nothing about bodies itself: `RequestPipeline.prepare` does, and the handler only moves
bytes. Response bodies are relayed chunk by chunk as they arrive, never decompressed or re-encoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import ssl
import time

import aiohttp
import orjson
from aiohttp import web
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from sidecar.config import UpstreamClientConfig
from sidecar.headers import HOP_BY_HOP, REQUEST_DROPPED, forwardable
from sidecar.observe import RequestRecord, SseEventCounter, finish_request
from sidecar.rewrite.injected import AnthropicThinkingStreamFilter, strip_thinking_from_message
from sidecar.rewrite.pipeline import is_signed
from sidecar.rewrite.rules import Change
from sidecar.routing import Route
from sidecar.state import Runtime, SidecarState

__all__ = ["CLIENT", "EGRESS", "STATE", "EgressProxies", "error_response", "handle", "make_client_session"]


class EgressProxies:
    """HTTP(S)_PROXY / NO_PROXY decided once per upstream origin, not on every request.

    aiohttp's own `trust_env` re-reads the environment and parses ~/.netrc (in a thread) for each
    request: measured at about half of the proxy's CPU per request. Routes are fixed per config, so
    the answer per upstream is too.
    """

    def __init__(self, trust_env: bool) -> None:
        self.trust_env = trust_env
        self._cache: dict[str, tuple[URL | None, aiohttp.BasicAuth | None]] = {}

    def for_upstream(self, upstream: str) -> tuple[URL | None, aiohttp.BasicAuth | None]:
        found = self._cache.get(upstream)
        if found is None:
            found = (None, None)
            if self.trust_env:
                with contextlib.suppress(LookupError):  # no proxy applies to this upstream
                    found = get_env_proxy_for_url(URL(upstream))
            if len(self._cache) >= 1024:  # bounded even across many reloads with new upstreams
                self._cache.clear()
            self._cache[upstream] = found
        return found


STATE = web.AppKey("state", SidecarState)
CLIENT = web.AppKey("client", aiohttp.ClientSession)
EGRESS = web.AppKey("egress", EgressProxies)

# Request ids for requests that carry none: a random per-process prefix and a counter, unique
# without a uuid4 (and its urandom call) per request.
_ID_PREFIX = os.urandom(12).hex()
_ID_COUNTER = itertools.count()

# Headers aiohttp's client would add on its own; we send only what the app sent.
_NO_AUTO_HEADERS = ("User-Agent", "Accept", "Accept-Encoding", "Content-Type")
_SSE = "text/event-stream"


class _BodyTooLarge(Exception):
    pass


class _CoalescedResponse(web.StreamResponse):
    """A relayed non-SSE response whose headers leave with its first body bytes: one write (and
    one TCP segment) instead of two for a typical JSON answer. The body is still relayed chunk by
    chunk as it arrives; only the header flush waits for the first chunk, which changes nothing
    for a client that needs the whole body anyway. SSE keeps aiohttp's immediate header flush.
    (`_send_headers_immediately` is aiohttp's switch for `web.Response`; if a future aiohttp drops
    it, headers are simply sent at once again.)"""

    _send_headers_immediately = False


def make_client_session(cfg: UpstreamClientConfig) -> aiohttp.ClientSession:
    """One pooled session per process: system trust store (+ optional CA bundle), env proxies."""
    ctx = ssl.create_default_context()
    if cfg.ca_bundle is not None:
        ctx.load_verify_locations(cafile=str(cfg.ca_bundle))
    connector = aiohttp.TCPConnector(
        limit=cfg.pool_max_connections,
        limit_per_host=cfg.pool_max_per_host,
        keepalive_timeout=cfg.keepalive_seconds,
        ssl=ctx,
    )
    # No total timeout: a reasoning stream may legitimately last many minutes. Bound the connect
    # and each silence instead.
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=cfg.connect_timeout_seconds,
        sock_connect=cfg.connect_timeout_seconds,
        sock_read=cfg.idle_read_timeout_seconds,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        trust_env=False,  # env proxies are resolved once per upstream by EgressProxies
        skip_auto_headers=_NO_AUTO_HEADERS,
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def error_response(status: int, message: str, code: str, err_type: str = "sidecar_error") -> web.Response:
    """An error the app's SDK can parse: the OpenAI error shape."""
    body = {"error": {"message": message, "type": err_type, "code": code}}
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def _upstream_failure(exc: BaseException) -> tuple[int, str, str]:
    """(status, metric reason, message) for an upstream that failed before answering."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError | aiohttp.ClientSSLError):
        return 502, "tls", "TLS handshake with the upstream failed"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return 502, "connect", "could not connect to the upstream"
    if isinstance(exc, TimeoutError):
        return 504, "timeout", "the upstream did not answer in time"
    return 502, "reset", "the upstream closed the connection before answering"


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _BodyTooLarge
    if not request.body_exists:
        return b""
    return await _read_bounded(request.content, limit)


async def _read_bounded(stream: aiohttp.StreamReader, limit: int) -> bytes:
    """The whole body of `stream`, or _BodyTooLarge as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.readany():
        size += len(chunk)
        if size > limit:
            raise _BodyTooLarge
        chunks.append(chunk)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def handle(request: web.Request) -> web.StreamResponse:
    """Proxy one request to the upstream its path prefix names."""
    state = request.app[STATE]
    runtime = state.runtime  # captured once: a reload mid-request does not change this request
    rel = request.rel_url  # the origin-form path, even for an absolute-form request line
    raw_path = rel.raw_path
    route = runtime.router.match(raw_path) if request.method != "CONNECT" else None
    rec = RequestRecord(
        request_id=request.headers.get("X-Request-Id") or f"{_ID_PREFIX}{next(_ID_COUNTER) & 0xFFFFFFFF:08x}",
        method=request.method,
        route=route.name if route is not None else "unmatched",
    )
    state.in_flight += 1
    in_flight = state.metrics.child(state.metrics.in_flight, rec.route)  # looked up once, memoised
    in_flight.inc()
    try:
        if request.method == "CONNECT":
            rec.status = 405
            return error_response(
                405, "CONNECT is not supported: this is not a forward proxy", "method_not_allowed"
            )
        if route is None:
            rec.status = 404
            return error_response(404, f"no route is configured for path {raw_path!r}", "no_route")
        return await _proxy(request, state, runtime, route, rel.raw_query_string, rec)
    except asyncio.CancelledError:
        # The client hung up (aiohttp cancels the handler); the upstream exchange was closed on
        # the way out. 499 is nginx's code for this when no status was sent yet.
        rec.error = "client_disconnect"
        rec.status = rec.status or 499
        raise
    finally:
        state.in_flight -= 1
        in_flight.dec()
        finish_request(state.metrics, rec)


async def _proxy(
    request: web.Request,
    state: SidecarState,
    runtime: Runtime,
    route: Route,
    raw_query: str,
    rec: RequestRecord,
) -> web.StreamResponse:
    config = runtime.config
    try:
        body = await _read_body(request, config.limits.max_body_bytes)
    except _BodyTooLarge:
        rec.status = 413
        rec.passthrough = "too_large"
        resp = error_response(
            413,
            f"request body exceeds the sidecar's limit of {config.limits.max_body_bytes} bytes",
            "request_too_large",
        )
        resp.force_close()  # the rest of the body is unread: this connection cannot be reused
        return resp
    rec.bytes_in = len(body)

    raw_path = request.rel_url.raw_path
    upstream_path = route.upstream_path(raw_path)
    prepared = runtime.pipeline.prepare(
        route.dialect,
        upstream_path,
        request.headers.get("Content-Type"),
        request.headers.get("Content-Encoding"),
        body,
        route.dry_run,
        route=route.name,
        signed=is_signed(request.headers, raw_query),
    )
    rec.family = prepared.family
    rec.model = prepared.model
    rec.changes = prepared.changes
    rec.dry_run = prepared.dry_run
    rec.passthrough = rec.passthrough or prepared.passthrough

    dropped = REQUEST_DROPPED | {"content-encoding"} if prepared.decoded else REQUEST_DROPPED
    headers = forwardable(request.headers, dropped)
    if prepared.strip_injected_thinking:
        # The response will be edited (injected thinking removed): ask for it uncompressed.
        headers["Accept-Encoding"] = "identity"
    data = prepared.body if (request.body_exists or prepared.body) else None
    url = route.upstream_url(raw_path, raw_query)  # strips the prefix itself
    session = request.app[CLIENT]
    proxy, proxy_auth = request.app[EGRESS].for_upstream(route.upstream)

    rec.overhead = time.perf_counter() - rec.started
    sent_at = time.perf_counter()
    try:
        upstream = await session.request(
            request.method,
            url,
            headers=headers,
            data=data,
            allow_redirects=False,
            proxy=proxy,
            proxy_auth=proxy_auth,
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        status, reason, message = _upstream_failure(exc)
        rec.status, rec.error = status, reason
        return error_response(status, message, f"upstream_{reason}", "sidecar_upstream_error")

    try:
        if prepared.strip_injected_thinking and _is_plain(upstream):
            return await _relay_without_injected_thinking(request, upstream, state, runtime, rec, sent_at)
        return await _relay(request, upstream, state, runtime, rec, sent_at)
    finally:
        # A fully read response returns its connection to the pool; anything else closes it, so
        # an abandoned upstream stream stops generating (and billing) at once.
        if upstream.content.is_eof():
            upstream.release()
        else:
            upstream.close()


def _is_plain(upstream: aiohttp.ClientResponse) -> bool:
    return upstream.headers.get("Content-Encoding", "identity").lower() == "identity"


async def _relay_without_injected_thinking(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    state: SidecarState,
    runtime: Runtime,
    rec: RequestRecord,
    sent_at: float,
) -> web.StreamResponse:
    """The one response the sidecar edits: thinking it injected is removed (DESIGN.md §4.4)."""
    stream_filter = AnthropicThinkingStreamFilter()
    if upstream.headers.get("Content-Type", "").startswith(_SSE):
        response = await _relay(request, upstream, state, runtime, rec, sent_at, stream_filter)
        dropped = stream_filter.events_dropped
    else:
        limit = runtime.config.limits.max_body_bytes
        try:
            body = await _read_bounded(upstream.content, limit)
        except (aiohttp.ClientError, TimeoutError, _BodyTooLarge):
            return await _relay(request, upstream, state, runtime, rec, sent_at)  # forwarded as is
        edited = strip_thinking_from_message(body) if upstream.status == 200 else body
        dropped = int(edited is not body)
        rec.upstream_status = rec.status = upstream.status
        rec.first_byte = time.perf_counter() - sent_at
        headers = forwardable(upstream.headers, HOP_BY_HOP)
        headers.popall("Content-Length", None)  # recomputed for the edited body
        response = web.Response(status=upstream.status, reason=upstream.reason, body=edited, headers=headers)
        rec.bytes_out = len(edited)
    if dropped:
        note = Change("thinking.inject.response", "drop", "content[thinking]", dropped, None)
        rec.changes = (*rec.changes, note)
    return response


async def _relay(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    state: SidecarState,
    runtime: Runtime,
    rec: RequestRecord,
    sent_at: float,
    stream_filter: AnthropicThinkingStreamFilter | None = None,
) -> web.StreamResponse:
    header_start = time.perf_counter()
    rec.first_byte = header_start - sent_at
    rec.upstream_status = upstream.status
    content_type = upstream.headers.get("Content-Type", "")
    sse = content_type.startswith(_SSE)
    out = (web.StreamResponse if sse else _CoalescedResponse)(status=upstream.status, reason=upstream.reason)
    out.headers.extend(forwardable(upstream.headers, HOP_BY_HOP))
    if sse:
        rec.stream = True
        rec.sse = SseEventCounter()
        # Tell nginx-style intermediaries not to buffer the stream (peers.md §3 item 13).
        out.headers["X-Accel-Buffering"] = "no"
    if runtime.config.debug.response_headers:
        # The header leaves with the status line, so it carries the overhead up to this point.
        _add_debug_headers(out, rec, rec.overhead + (time.perf_counter() - header_start))
    rec.status = upstream.status
    try:
        await out.prepare(request)
    except ConnectionError:
        rec.error = "client_disconnect"
        return out
    rec.overhead += time.perf_counter() - header_start
    if rec.stream:
        streams = state.metrics.child(state.metrics.streams_active, rec.route)
        streams.inc()
        try:
            return await _relay_body(request, upstream, out, rec, stream_filter)
        finally:
            streams.dec()
    return await _relay_body(request, upstream, out, rec, stream_filter)


async def _relay_body(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    out: web.StreamResponse,
    rec: RequestRecord,
    stream_filter: AnthropicThinkingStreamFilter | None = None,
) -> web.StreamResponse:
    """Copy the body chunk by chunk as it arrives; no buffering, no decoding. `stream_filter`
    (only for thinking the sidecar injected) holds each SSE event until it is complete."""
    sse = rec.sse
    while True:
        try:
            chunk = await upstream.content.readany()  # what iter_any() yields: whatever arrived
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The upstream died mid-body. Close the client connection without a clean end (no
            # final chunk, short Content-Length) so the client sees a truncated stream.
            rec.error = "timeout" if isinstance(exc, TimeoutError) else "reset"
            _abort(request)
            return out
        if not chunk:
            if stream_filter is not None and (rest := stream_filter.flush()):
                await out.write(rest)
            break
        if stream_filter is not None:
            chunk = stream_filter.feed(chunk)
            if not chunk:
                continue
        try:
            await out.write(chunk)
        except ConnectionError:
            rec.error = "client_disconnect"
            return out
        rec.bytes_out += len(chunk)
        if sse is not None:  # counted after the write, so it never delays the bytes
            sse.feed(chunk)
    await out.write_eof()
    return out


def _add_debug_headers(out: web.StreamResponse, rec: RequestRecord, overhead: float) -> None:
    out.headers["x-sidecar-request-id"] = rec.request_id
    out.headers["x-sidecar-family"] = rec.family
    out.headers["x-sidecar-overhead-ms"] = f"{overhead * 1000:.3f}"
    if rec.changes:
        out.headers["x-sidecar-rewrites"] = ",".join(dict.fromkeys(c.rule for c in rec.changes))


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()
