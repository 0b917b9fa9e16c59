"""Bad input never crashes, hangs or corrupts: bodies the sidecar cannot or must not rewrite are
forwarded byte for byte and counted by reason (DESIGN.md §4.1, §4.5)."""

from __future__ import annotations

import gzip
import re
import zlib

import aiohttp
import pytest

from tests.conftest import admin_url, base_url

LEGACY = b'{"model": "o4-mini", "max_tokens": 10, "temperature": 0.2, "messages": []}'


@pytest.fixture
async def sidecar(upstream, make_sidecar):
    return await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai", "name": "main"}],
        limits={"max_body_bytes": 64 * 1024},
    )


async def _passthrough(sidecar, reason: str) -> float:
    async with aiohttp.ClientSession() as s, s.get(admin_url(sidecar) + "/metrics") as r:
        text = await r.text()
    found = re.search(rf'^sidecar_passthrough_total{{reason="{reason}",route="main"}} (\S+)$', text, re.M)
    found = found or re.search(
        rf'^sidecar_passthrough_total{{route="main",reason="{reason}"}} (\S+)$', text, re.M
    )
    assert found, f"no passthrough series for {reason}"
    return float(found.group(1))


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b'{"model": "o4-mini", "max_tokens": 10,', {"Content-Type": "application/json"}, "parse_error"),
        (b'["o4-mini"]', {"Content-Type": "application/json"}, "parse_error"),
        (b"\xff\xfe not utf-8 {", {"Content-Type": "application/json"}, "parse_error"),
        (LEGACY, {"Content-Type": "text/plain"}, "not_json"),
        (
            b"\x1f\x8b broken gzip",
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            "parse_error",
        ),
        # A compression bomb: 1 MiB of zeros inflates past the 64 KiB limit; never inflated whole.
        (
            gzip.compress(b"{" + b" " * (1024 * 1024) + b"}"),
            {"Content-Type": "application/json", "Content-Encoding": "gzip"},
            "too_large",
        ),
        (
            zlib.compress(b"not json"),
            {"Content-Type": "application/json", "Content-Encoding": "deflate"},
            "parse_error",
        ),
    ],
    ids=[
        "truncated-json",
        "json-array",
        "not-utf8",
        "text-plain",
        "broken-gzip",
        "gzip-bomb",
        "deflate-not-json",
    ],
)
async def test_unrewritable_bodies_pass_untouched_and_are_counted(sidecar, upstream, body, headers, reason):
    before = await _passthrough(sidecar, reason)
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(sidecar) + "/v1/chat/completions", data=body, headers=headers) as r:
            assert r.status == 200  # the upstream's answer, not a sidecar rejection
            assert await r.read() == body
    (got,) = upstream.received
    assert got.body == body  # byte for byte, still encoded as the client encoded it
    assert got.header("Content-Encoding") == headers.get("Content-Encoding")
    assert await _passthrough(sidecar, reason) == before + 1


async def test_control_the_same_route_rewrites_a_well_formed_body(sidecar, upstream):
    """The passthroughs above are the sidecar's choice, not a route that never rewrites."""
    async with aiohttp.ClientSession() as s:
        async with s.post(base_url(sidecar) + "/v1/chat/completions", data=LEGACY,
                          headers={"Content-Type": "application/json"}) as r:  # fmt: skip
            assert r.status == 200
    assert b'"max_completion_tokens":10' in upstream.received[-1].body


async def test_expect_100_continue_is_answered_here_and_not_forwarded(sidecar, upstream):
    """curl sends `Expect: 100-continue` for large bodies; the sidecar answers it and the upstream
    gets the body with Content-Length, not the expectation (it was met on this hop)."""
    import asyncio

    host, port = sidecar.proxy_address
    reader, writer = await asyncio.open_connection(host, port)
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\nContent-Length: "
        + str(len(LEGACY)).encode()
        + b"\r\n\r\n"
    )
    writer.write(head)
    await writer.drain()
    assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"HTTP/1.1 100")
    await reader.readline()  # the blank line after the interim response
    writer.write(LEGACY)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 200")
    (got,) = upstream.received
    assert got.header("Expect") is None
    assert b'"max_completion_tokens":10' in got.body
