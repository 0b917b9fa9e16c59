"""The floor of a Python proxy without aiohttp: evidence for the design change in README.md.

Not product code. A minimal keep-alive HTTP/1.1 reverse proxy on bare `asyncio.Protocol`s: request
heads and bodies framed by Content-Length only, one pooled upstream connection per client
connection, response bytes relayed verbatim. It does none of the sidecar's work (no routing
table, no header policy, no engine, no metrics, no timeouts, no chunked requests), so its CPU per
request is what the transport layer alone costs in Python, measured with the same wrk load as the
suite:

    .venv/bin/python -m benchmarks.floor            # asyncio
    .venv/bin/python -m benchmarks.floor --uvloop   # if uvloop is installed
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
from pathlib import Path

__all__ = ["main"]


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    end = lower.find(b"\r\n", at + 2)
    return int(lower[at + 17 : end])


class _Upstream(asyncio.Protocol):
    def __init__(self, client: _Client) -> None:
        self.client = client
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        # Relay verbatim; find the end of the response only to know when the exchange is over.
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        total = end + 4 + _content_length(self.buf[: end + 2])
        if len(self.buf) >= total:
            assert self.client.transport is not None
            self.client.transport.write(self.buf[:total])
            self.buf = self.buf[total:]
            self.client.exchange_done()


class _Client(asyncio.Protocol):
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.buf = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.upstream: _Upstream | None = None
        self.connecting: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._next()

    def _next(self) -> None:
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        total = end + 4 + _content_length(self.buf[: end + 2])
        if len(self.buf) < total:
            return
        request, self.buf = self.buf[:total], self.buf[total:]
        self.busy = True
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.write(request)
        else:
            self.connecting = asyncio.ensure_future(self._connect(request))  # kept: tasks are weakly held

    async def _connect(self, request: bytes) -> None:
        loop = asyncio.get_running_loop()
        _, self.upstream = await loop.create_connection(
            lambda: _Upstream(self), "127.0.0.1", self.upstream_port
        )
        assert self.upstream.transport is not None
        self.upstream.transport.write(request)

    def exchange_done(self) -> None:
        self.busy = False
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.close()


async def _serve(port: int, upstream_port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Client(upstream_port), "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def _proxy_main(port: int, upstream_port: int, use_uvloop: bool) -> None:
    if use_uvloop:
        import uvloop

        uvloop.run(_serve(port, upstream_port))
    else:
        asyncio.run(_serve(port, upstream_port))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uvloop", action="store_true")
    parser.add_argument(
        "--serve", nargs=2, type=int, metavar=("PORT", "UPSTREAM_PORT"), help=argparse.SUPPRESS
    )
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    if args.serve:
        _proxy_main(args.serve[0], args.serve[1], args.uvloop)
        return 0

    from benchmarks import nginx, procs
    from benchmarks.payloads import BODY_REWRITE
    from benchmarks.wrk import run_wrk

    with tempfile.TemporaryDirectory(prefix="sidecar-floor-") as tmpdir:
        tmp = Path(tmpdir)
        json_port, port = procs.free_port(), procs.free_port()
        up = procs.start(
            "json-upstream",
            nginx.nginx_argv(tmp / "up", nginx.json_upstream_conf(tmp / "up", json_port)),
            json_port,
            "1",
            tmp / "up.log",
        )
        argv = [sys.executable, "-m", "benchmarks.floor", "--serve", str(port), str(json_port)]
        proxy = procs.start(
            "floor", [*argv, *(["--uvloop"] if args.uvloop else [])], port, "0", tmp / "p.log"
        )
        try:
            body = tmp / "body.json"
            body.write_bytes(BODY_REWRITE)
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            run_wrk(url, body, 16, 1, "1")
            per_request = []
            for _ in range(3):
                with procs.Cpu(proxy.pid) as cpu:
                    result = run_wrk(url, body, 16, args.seconds, "1")
                if result.errors or not result.requests:
                    raise RuntimeError(f"floor proxy answered badly: {result}")
                per_request.append(cpu.used * 1000 / result.requests)
                print(f"{result.rps:,.0f} req/s, {per_request[-1]:.4f} ms CPU per request", flush=True)
            loop = "uvloop" if args.uvloop else "asyncio"
            print(
                f"bare-protocol proxy ({loop}), 16 connections: median {statistics.median(per_request):.4f} ms CPU/request"
            )
        finally:
            proxy.stop()
            up.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
