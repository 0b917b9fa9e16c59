"""The streaming reverse proxy over real sockets: what crosses, what does not, and how fast."""

from __future__ import annotations

import asyncio
import gzip
import time

import aiohttp
import orjson

from tests.conftest import base_url


async def test_body_path_and_query_forwarded_byte_for_byte(proxy, upstream):
    body = b'{"model":"gpt-4o",  "messages":[{"role":"user","content":"h\\u00e9"}],"zz":1}'
    path = "/v1/chat/completions/a%2Fb%20c?api-version=2024-12-01-preview&x=1&x=2&q=%7E"
    async with aiohttp.ClientSession() as s:
        url = yarl_url(base_url(proxy) + path)
        async with s.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
            assert r.status == 200
            assert await r.read() == body
            assert r.headers["X-Upstream"] == "echo"
    (got,) = upstream.received
    assert got.method == "POST"
    assert got.raw_path == path
    assert got.body == body
    assert got.header("Host") == f"127.0.0.1:{upstream.port}"
    assert got.header("Content-Length") == str(len(body))


def yarl_url(text: str):
    import yarl

    return yarl.URL(text, encoded=True)


async def test_hop_by_hop_headers_stripped_end_to_end_kept(proxy, upstream):
    headers = {
        "Connection": "keep-alive, X-Hop-Secret",
        "X-Hop-Secret": "one-hop-only",
        "Keep-Alive": "timeout=5",
        "TE": "trailers",
        "Proxy-Authorization": "Basic cHJveHk6c2VjcmV0",
        "Upgrade": "h2c",
        "Authorization": "Bearer sk-test",
        "OpenAI-Organization": "org-1",
        "X-Request-Id": "req-123",
    }
    async with aiohttp.ClientSession(skip_auto_headers=["User-Agent"]) as s:
        async with s.post(base_url(proxy) + "/v1/x", data=b"{}", headers=headers) as r:
            assert r.status == 200
    (got,) = upstream.received
    names = {k.lower() for k, _ in got.headers}
    for gone in ("x-hop-secret", "keep-alive", "te", "proxy-authorization", "upgrade"):
        assert gone not in names, gone
    assert got.header("Authorization") == "Bearer sk-test"
    assert got.header("OpenAI-Organization") == "org-1"
    assert got.header("X-Request-Id") == "req-123"
    # Nothing the app did not send is invented (aiohttp would add these by default).
    assert got.header("User-Agent") is None


async def test_two_mib_body_arrives_intact(proxy, upstream):
    body = orjson.dumps(
        {"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * (2 * 1024 * 1024)}]}
    )
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(proxy) + "/v1/chat/completions", data=body) as r:
            assert r.status == 200
            assert await r.read() == body
    assert upstream.received[0].body == body


async def test_body_over_limit_gets_413_json_and_nothing_is_forwarded(upstream, make_sidecar):
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
        limits={"max_body_bytes": 1024},
    )
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(sidecar) + "/v1/chat/completions", data=b"x" * 2048) as r:
            assert r.status == 413
            err = (await r.json())["error"]
            assert err["code"] == "request_too_large"
            assert "1024" in err["message"]

        async def chunked():  # no Content-Length: the limit applies while reading
            for _ in range(4):
                yield b"y" * 512

        async with s.post(base_url(sidecar) + "/v1/chat/completions", data=chunked()) as r:
            assert r.status == 413
    assert upstream.received == []


async def test_sse_events_arrive_one_by_one_with_their_spacing(proxy, upstream):
    arrivals: list[tuple[float, bytes]] = []
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(proxy) + "/v1/sse?n=5&delay=0.2", data=b"{}") as r:
            assert r.headers["Content-Type"].startswith("text/event-stream")
            assert r.headers["X-Accel-Buffering"] == "no"
            async for chunk in r.content.iter_any():
                arrivals.append((time.monotonic(), chunk))
    data = b"".join(c for _, c in arrivals)
    assert data == b"".join(f'data: {{"i": {i}}}\n\n'.encode() for i in range(5)) + b"data: [DONE]\n\n"
    first_event_at = next(t for t, c in arrivals if b'"i": 0' in c)
    last_sent = upstream.sse_sent_at[-1]
    # The first event was in the client's hands about 0.8 s before the upstream sent the last one.
    assert first_event_at < last_sent - 0.5
    assert len(arrivals) >= 5  # not coalesced into one buffered write


async def test_compressed_response_passes_untouched(proxy, upstream):
    async with aiohttp.ClientSession(auto_decompress=False) as s:
        async with s.get(base_url(proxy) + "/v1/gzip", headers={"Accept-Encoding": "gzip"}) as r:
            assert r.headers["Content-Encoding"] == "gzip"
            raw = await r.read()
    assert raw == gzip.compress(b'{"compressed": true}', mtime=0)
    assert upstream.received[0].header("Accept-Encoding") == "gzip"


async def test_upstream_refused_gives_502_json(make_sidecar, unused_tcp_port):
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": f"http://127.0.0.1:{unused_tcp_port}", "dialect": "openai"}]
    )
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(sidecar) + "/v1/chat/completions", data=b"{}") as r:
            assert r.status == 502
            assert r.content_type == "application/json"
            err = (await r.json())["error"]
    assert err["type"] == "sidecar_upstream_error"
    assert err["code"] == "upstream_connect"


async def test_upstream_timeout_before_headers_gives_504(upstream, make_sidecar):
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
        upstream={"idle_read_timeout_seconds": 0.3},
    )
    async with aiohttp.ClientSession() as s, s.get(base_url(sidecar) + "/v1/slow?delay=3") as r:
        assert r.status == 504
        err = (await r.json())["error"]
    assert err == {
        "message": "the upstream did not answer in time",
        "type": "sidecar_upstream_error",
        "code": "upstream_timeout",
    }


async def test_upstream_death_mid_stream_truncates_the_client_stream(proxy, upstream):
    received = b""
    async with aiohttp.ClientSession() as s, s.get(base_url(proxy) + "/v1/die") as r:
        assert r.status == 200
        try:
            async for chunk in r.content.iter_any():
                received += chunk
        except aiohttp.ClientPayloadError:
            truncated = True
        else:
            truncated = False
    assert received == b'data: {"i": 0}\n\n'
    assert truncated, "the client must not see a clean end of a stream the upstream never finished"


async def test_client_disconnect_cancels_upstream_within_a_second(proxy, upstream):
    async with aiohttp.ClientSession() as s:
        r = await s.get(base_url(proxy) + "/v1/hang")
        assert await r.content.readany() == b'data: {"i": 0}\n\n'
        hung_up = time.monotonic()
        r.close()  # drop the connection mid-stream
    for _ in range(100):
        if upstream.cancelled_at:
            break
        await asyncio.sleep(0.02)
    assert upstream.cancelled_at, "the upstream request was never cancelled"
    assert upstream.cancelled_at[0] - hung_up < 1.0
    assert proxy.state.in_flight == 0


async def test_unknown_path_and_connect_are_refused(proxy, upstream):
    async with aiohttp.ClientSession() as s:
        async with s.get(base_url(proxy) + "/v10/models") as r:  # not a whole-segment match
            assert r.status == 404
            assert (await r.json())["error"]["code"] == "no_route"
    host, port = proxy.proxy_address
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"CONNECT api.openai.com:443 HTTP/1.1\r\nHost: api.openai.com:443\r\n\r\n")
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] in (b"404", b"405")  # refused either by the router or by us
    assert upstream.received == []


async def test_strip_prefix_route_reaches_upstream_with_prefix_removed_once(upstream, make_sidecar):
    sidecar = await make_sidecar(
        routes=[{"prefix": "/stream", "upstream": upstream.url, "dialect": "openai", "strip_prefix": True}]
    )
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(sidecar) + "/stream/v1/chat/completions?x=1", data=b"{}") as r:
            assert r.status == 200
    (got,) = upstream.received
    assert got.raw_path == "/v1/chat/completions?x=1"
