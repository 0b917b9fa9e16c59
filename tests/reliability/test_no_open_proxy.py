"""The Host header or an absolute-form request URI never chooses the destination."""

from __future__ import annotations

import asyncio

from tests.upstream import RecordingUpstream


async def _raw(address: tuple[str, int], request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(*address)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(65536), 5)
    writer.close()
    return data


async def test_foreign_host_header_and_absolute_uri_reach_only_the_configured_upstream(proxy, upstream):
    foreign = await RecordingUpstream().start()  # a host that must never be contacted
    try:
        target = f"127.0.0.1:{foreign.port}".encode()
        absolute = (
            b"GET http://"
            + target
            + b"/v1/models HTTP/1.1\r\nHost: "
            + target
            + b"\r\nConnection: close\r\n\r\n"
        )
        data = await _raw(proxy.proxy_address, absolute)
        assert data.startswith(b"HTTP/1.1 200")
        foreign_host = b"GET /v1/models HTTP/1.1\r\nHost: " + target + b"\r\nConnection: close\r\n\r\n"
        data = await _raw(proxy.proxy_address, foreign_host)
        assert data.startswith(b"HTTP/1.1 200")
        assert foreign.received == []
        assert [r.raw_path for r in upstream.received] == ["/v1/models", "/v1/models"]
        assert all(r.header("Host") == f"127.0.0.1:{upstream.port}" for r in upstream.received)
    finally:
        await foreign.stop()


async def test_absolute_uri_outside_any_route_is_404(proxy, upstream):
    request = b"GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n"
    data = await _raw(proxy.proxy_address, request)
    assert data.startswith(b"HTTP/1.1 404")
    assert upstream.received == []
