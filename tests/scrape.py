"""Read a Prometheus text exposition into {(sample name, labels): value} for exact assertions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

Labels = frozenset[tuple[str, str]]
Samples = dict[tuple[str, Labels], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    """The one sample named `name` whose labels include `labels`; 0 when absent (a counter never
    incremented). Fails if several series match, so a test cannot sum by accident."""
    want = set(labels.items())
    hits = [v for (n, ls), v in samples.items() if n == name and want <= ls]
    assert len(hits) <= 1, f"{name}{labels} matches {len(hits)} series"
    return hits[0] if hits else 0.0


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every series of `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def series(samples: Samples, name: str) -> list[Mapping[str, str]]:
    return [dict(ls) for (n, ls) in samples if n == name]


def names(samples: Samples) -> set[str]:
    return {n for n, _ in samples}


async def scrape(admin: str) -> Samples:
    async with aiohttp.ClientSession() as s, s.get(admin + "/metrics") as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain")
        return parse(await r.text())


async def scrape_when(admin: str, ready: Callable[[Samples], bool], tries: int = 100) -> Samples:
    """Scrape until `ready` holds (bounded). A request is counted just after its last byte is sent,
    so a client that got its answer may scrape a moment before the count lands."""
    samples = await scrape(admin)
    for _ in range(tries):
        if ready(samples):
            break
        await asyncio.sleep(0.02)
        samples = await scrape(admin)
    return samples
