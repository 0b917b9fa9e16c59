"""Drive real requests through a sidecar, scrape /metrics, assert exact deltas."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from tests.conftest import admin_url, base_url
from tests.scrape import Samples, scrape, scrape_when, series, total, value


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def test_counters_move_by_exactly_what_was_sent(upstream, make_sidecar, unused_tcp_port):
    sidecar = await make_sidecar(
        routes=[
            {"prefix": "/v1", "upstream": upstream.url, "dialect": "openai", "name": "main"},
            {"prefix": "/dead", "upstream": f"http://127.0.0.1:{unused_tcp_port}", "dialect": "openai"},
        ],
        limits={"max_body_bytes": 4096},
        debug={"response_headers": True},
    )
    proxy, admin = base_url(sidecar), admin_url(sidecar)
    before = await scrape(admin)
    header_ms = 0.0
    async with aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.post(proxy + "/v1/chat/completions", data=b'{"model":"gpt-4o"}') as r:
                assert r.status == 200
                header_ms += float(r.headers["x-sidecar-overhead-ms"])
        for _ in range(2):
            async with s.post(proxy + "/dead/chat/completions", data=b"{}") as r:
                assert r.status == 502
        async with s.get(proxy + "/nowhere") as r:
            assert r.status == 404
        async with s.post(proxy + "/v1/chat/completions", data=b"x" * 5000) as r:
            assert r.status == 413
        async with s.post(proxy + "/v1/sse?n=3&delay=0", data=b"{}") as r:
            assert (await r.read()).count(b"\n\n") == 4
        during = None
        async with s.get(proxy + "/v1/hang") as r:
            assert await r.content.readany()
            during = await scrape(admin)
    sent = 9
    after = await scrape_when(
        admin,
        lambda now: total(now, "sidecar_requests_total") - total(before, "sidecar_requests_total") == sent,
    )
    assert total(after, "sidecar_requests_total") - total(before, "sidecar_requests_total") == sent

    assert value(during, "sidecar_streams_active", route="main") == 1
    assert value(during, "sidecar_requests_in_flight", route="main") == 1
    assert value(after, "sidecar_streams_active", route="main") == 0
    assert value(after, "sidecar_requests_in_flight", route="main") == 0

    # 3 echo, sse, and the hung-up stream: its 200 had reached the client before it left.
    assert delta(before, after, "sidecar_requests_total", route="main", code="200") == 5
    assert delta(before, after, "sidecar_requests_total", route="main", code="413") == 1
    assert delta(before, after, "sidecar_requests_total", route="dead", code="502") == 2
    assert delta(before, after, "sidecar_requests_total", route="unmatched", code="404") == 1
    assert delta(before, after, "sidecar_upstream_errors_total", route="dead", reason="connect") == 2
    assert (
        delta(before, after, "sidecar_upstream_errors_total", route="main", reason="client_disconnect") == 1
    )
    assert total(after, "sidecar_upstream_errors_total", route="main") == 1
    assert delta(before, after, "sidecar_passthrough_total", route="main", reason="too_large") == 1
    assert delta(before, after, "sidecar_stream_events_total", route="main") == 4 + 1  # sse + hang's one
    # Every request the upstream answered has its overhead observed: 3 echo, sse, hang.
    assert delta(before, after, "sidecar_overhead_seconds_count", route="main") == 5
    assert value(after, "sidecar_overhead_seconds_bucket", route="main", le="+Inf") == 5
    # The header is measured up to the moment it is sent, the histogram a little later.
    assert 0 < header_ms / 1000 <= value(after, "sidecar_overhead_seconds_sum", route="main")
    assert delta(before, after, "sidecar_request_duration_seconds_count", route="main", stream="true") == 2
    assert delta(before, after, "sidecar_upstream_first_byte_seconds_count", route="main") == 5
    assert value(after, "sidecar_build_info") == 1


async def test_overhead_header_absent_without_debug_headers(proxy, upstream):
    async with aiohttp.ClientSession() as s, s.post(base_url(proxy) + "/v1/x", data=b"{}") as r:
        assert r.status == 200
        assert "x-sidecar-overhead-ms" not in r.headers


FLOOD = 10_000
CONNECTIONS = 8
BATCH = 250


async def _pipeline(address: tuple[str, int], numbers: range) -> int:
    """POST one body per number on one connection, BATCH requests per write; count the 200s."""
    reader, writer = await asyncio.open_connection(*address)
    answered = 0
    try:
        for first in range(0, len(numbers), BATCH):
            requests = []
            for i in numbers[first : first + BATCH]:
                body = orjson.dumps({"model": f"flood-model-{i:05d}", "messages": []})
                requests.append(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )
            writer.write(b"".join(requests))
            await writer.drain()
            for _ in requests:
                status = await reader.readline()
                assert status.startswith(b"HTTP/1.1 200"), status
                length = 0
                while (line := await reader.readline()) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                answered += 1
    finally:
        writer.close()
    return answered


async def test_ten_thousand_model_names_add_a_bounded_number_of_series(upstream, make_sidecar):
    sidecar = await make_sidecar(
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
        metrics={"model_labels": ["gpt-4o"]},
    )
    admin = admin_url(sidecar)
    # One request first creates the series a request of this kind needs; 10,000 more distinct
    # names must then add none.
    assert await _pipeline(sidecar.proxy_address, range(FLOOD, FLOOD + 1)) == 1
    async with aiohttp.ClientSession() as s:
        for _ in range(5):  # the allowlisted model gets its own label value
            async with s.post(
                base_url(sidecar) + "/v1/chat/completions", data=b'{"model":"gpt-4o"}', headers=JSON
            ) as r:
                assert r.status == 200
    before = await scrape_when(admin, lambda now: total(now, "sidecar_requests_total") == 6)
    assert value(before, "sidecar_requests_total", model="gpt-4o") == 5
    # Pipelined batches on a few keep-alive connections: cheap for the client, so the run measures
    # the proxy and stays fast.
    answered = sum(
        await asyncio.gather(
            *(_pipeline(sidecar.proxy_address, range(c, FLOOD, CONNECTIONS)) for c in range(CONNECTIONS))
        )
    )
    assert answered == FLOOD
    assert len(upstream.received) == FLOOD + 6
    after = await scrape_when(
        admin,
        lambda now: total(now, "sidecar_requests_total") - total(before, "sidecar_requests_total") == FLOOD,
    )
    assert total(after, "sidecar_requests_total") - total(before, "sidecar_requests_total") == FLOOD
    assert set(after) == set(before), sorted(set(after) - set(before))
    assert {ls["model"] for ls in series(after, "sidecar_requests_total")} == {"gpt-4o", "other"}
    assert value(after, "sidecar_requests_total", model="gpt-4o") == 5
    assert not [key for key in after if any("flood-model" in v for _, v in key[1])]


O3 = {
    "model": "o3-mini",
    "max_tokens": 50,
    "temperature": 0.2,
    "messages": [{"role": "user", "content": "hi"}],
}
GPT5 = {**O3, "model": "gpt-5", "top_p": 0.5}
JSON = {"Content-Type": "application/json"}
RENAME = {"rule": "openai-max-tokens-to-max-completion-tokens", "action": "rename"}
TEMPERATURE = {"rule": "openai-temperature-default-only", "action": "drop"}
SAMPLING = {"rule": "openai-sampling-params-unsupported", "action": "drop"}


async def test_rewrites_counted_per_rule_family_mode_and_allowlisted_model(upstream, make_sidecar):
    sidecar = await make_sidecar(
        routes=[
            {"prefix": "/v1", "upstream": upstream.url, "dialect": "openai", "name": "openai"},
            {
                "prefix": "/dry",
                "upstream": upstream.url,
                "dialect": "openai",
                "dry_run": True,
                "strip_prefix": True,
            },
        ],
        metrics={"model_labels": ["gpt-5"]},
    )
    proxy, admin = base_url(sidecar), admin_url(sidecar)
    before = await scrape(admin)
    o_series = {"family": "openai-o-series", "model": "other"}
    # Known rules exist at 0 before the first rewrite, in each route's own mode.
    assert (
        "sidecar_rewrites_total",
        frozenset({("route", "openai"), ("mode", "enforce"), *o_series.items(), *RENAME.items()}),
    ) in before
    assert (
        "sidecar_rewrites_total",
        frozenset({("route", "dry"), ("mode", "dry_run"), *o_series.items(), *RENAME.items()}),
    ) in before

    sends = (
        [("/v1", O3)] * 3 + [("/v1", GPT5)] * 2 + [("/v1", {**O3, "model": "gpt-4o"})] + [("/dry/v1", O3)] * 2
    )
    async with aiohttp.ClientSession() as s:
        for path, body in sends:
            async with s.post(proxy + path + "/chat/completions", data=orjson.dumps(body), headers=JSON) as r:
                assert r.status == 200
    after = await scrape_when(
        admin,
        lambda now: (
            total(now, "sidecar_requests_total") - total(before, "sidecar_requests_total") == len(sends)
        ),
    )

    def rewrites(**labels: str) -> float:
        return delta(before, after, "sidecar_rewrites_total", **labels)

    enforce = {"route": "openai", "mode": "enforce"}
    assert rewrites(**enforce, **o_series, **RENAME) == 3
    assert rewrites(**enforce, **o_series, **TEMPERATURE) == 3
    gpt5 = {**enforce, "family": "openai-gpt-5", "model": "gpt-5"}
    assert rewrites(**gpt5, **RENAME) == 2
    assert rewrites(**gpt5, **TEMPERATURE) == 2
    assert rewrites(**gpt5, **SAMPLING) == 2
    dry = {"route": "dry", "mode": "dry_run", **o_series}
    assert rewrites(**dry, **RENAME) == 2
    assert rewrites(**dry, **TEMPERATURE) == 2
    assert (
        total(after, "sidecar_rewrites_total") - total(before, "sidecar_rewrites_total")
        == 3 * 2 + 2 * 3 + 2 * 2
    )
    assert total(after, "sidecar_rewrites_total", route="dry", mode="enforce") == 0

    assert (
        delta(before, after, "sidecar_requests_total", route="openai", family="openai-chat", code="200") == 1
    )
    assert (
        delta(before, after, "sidecar_requests_total", route="openai", family="openai-gpt-5", model="gpt-5")
        == 2
    )
    assert delta(before, after, "sidecar_requests_total", route="openai", family="openai-o-series") == 3
    # What crossed: enforced rewrites reached the upstream, dry-run bodies left untouched.
    forwarded = [orjson.loads(got.body) for got in upstream.received]
    assert "max_completion_tokens" in forwarded[0] and "max_tokens" not in forwarded[0]
    assert [got.body for got in upstream.received[-2:]] == [orjson.dumps(O3)] * 2
