"""TLS to upstreams (system trust store + an extra CA bundle) and HTTP(S)_PROXY / NO_PROXY egress
(issue 2). A local TLS upstream with a throwaway CA stands in for a provider."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from tests.conftest import base_url


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_upstream(ca: trustme.CA) -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        return web.json_response({"tls": True, "path": request.path})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=context)
    await site.start()
    yield f"https://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


async def _post(sidecar, path: str = "/v1/chat/completions") -> tuple[int, dict]:
    async with aiohttp.ClientSession() as s, s.post(base_url(sidecar) + path, data=b"{}") as r:
        return r.status, await r.json()


async def test_untrusted_upstream_certificate_is_a_502_tls_error(tls_upstream, make_sidecar):
    sidecar = await make_sidecar(routes=[{"prefix": "/v1", "upstream": tls_upstream, "dialect": "openai"}])
    status, body = await _post(sidecar)
    assert status == 502
    assert body["error"]["type"] == "sidecar_upstream_error"
    assert body["error"]["code"] == "upstream_tls"


async def test_extra_ca_bundle_is_trusted(tls_upstream, make_sidecar, ca, tmp_path: Path):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": tls_upstream, "dialect": "openai"}],
        upstream={"ca_bundle": str(bundle)},
    )
    status, body = await _post(sidecar)
    assert (status, body) == (200, {"tls": True, "path": "/v1/chat/completions"})


@pytest.fixture
async def egress_proxy() -> AsyncIterator[tuple[str, list[str]]]:
    """A plain HTTP forward proxy stand-in: answers absolute-form requests itself and records them."""
    seen: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        return web.json_response({"via": "proxy"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}", seen
    await runner.cleanup()


async def test_http_proxy_from_the_environment_is_used(monkeypatch, egress_proxy, upstream, make_sidecar):
    proxy_url, seen = egress_proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    sidecar = await make_sidecar(routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}])
    status, body = await _post(sidecar)
    assert (status, body) == (200, {"via": "proxy"})
    assert seen == [f"{upstream.url}/v1/chat/completions"]
    assert upstream.received == []


async def test_no_proxy_bypasses_the_proxy(monkeypatch, egress_proxy, upstream, make_sidecar):
    proxy_url, seen = egress_proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    sidecar = await make_sidecar(routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}])
    status, _ = await _post(sidecar)
    assert status == 200
    assert seen == []
    assert len(upstream.received) == 1
