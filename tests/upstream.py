"""A recording aiohttp upstream for tests: real sockets, controllable behaviour."""

from __future__ import annotations

import asyncio
import gzip
import time
from dataclasses import dataclass, field

from aiohttp import web


@dataclass
class Received:
    method: str
    raw_path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


@dataclass
class RecordingUpstream:
    """Serves a few behaviours under fixed paths and records every request it gets."""

    received: list[Received] = field(default_factory=list)
    sse_sent_at: list[float] = field(default_factory=list)
    cancelled_at: list[float] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> RecordingUpstream:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        # auto_decompress=False: record the bytes exactly as the sidecar sent them.
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, auto_decompress=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        """The last path segment picks the behaviour, so any route prefix reaches it."""
        behaviours = {
            "sse": self._sse,
            "die": self._die,
            "hang": self._hang,
            "slow": self._slow,
            "gzip": self._gzip,
        }
        handler = behaviours.get(request.path.rsplit("/", 1)[-1], self._echo)
        return await handler(request)

    async def _record(self, request: web.Request) -> Received:
        rec = Received(
            method=request.method,
            raw_path=request.raw_path,
            headers=list(request.headers.items()),
            body=await request.read(),
        )
        self.received.append(rec)
        return rec

    async def _echo(self, request: web.Request) -> web.Response:
        rec = await self._record(request)
        return web.Response(
            body=rec.body, status=200, headers={"Content-Type": "application/json", "X-Upstream": "echo"}
        )

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        count = int(request.query.get("n", "5"))
        delay = float(request.query.get("delay", "0.2"))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        for i in range(count):
            if i:
                await asyncio.sleep(delay)
            self.sse_sent_at.append(time.monotonic())
            await resp.write(f'data: {{"i": {i}}}\n\n'.encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    async def _die(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"i": 0}\n\n')
        await asyncio.sleep(0.05)
        assert request.transport is not None
        request.transport.abort()
        return resp

    async def _hang(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"i": 0}\n\n')
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            self.cancelled_at.append(time.monotonic())
            raise
        return resp

    async def _slow(self, request: web.Request) -> web.Response:
        await self._record(request)
        await asyncio.sleep(float(request.query.get("delay", "2")))
        return web.Response(text="late")

    async def _gzip(self, request: web.Request) -> web.Response:
        await self._record(request)
        return web.Response(
            body=gzip.compress(b'{"compressed": true}', mtime=0),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
