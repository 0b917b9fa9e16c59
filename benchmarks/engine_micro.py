"""Micro-benchmark of the rewrite engine alone: median microseconds per body, no sockets.

    .venv/bin/python -m benchmarks.engine_micro            # ~10 s
    .venv/bin/python -m benchmarks.engine_micro --quick    # ~2 s

For each body it times `RequestPipeline.prepare` (what the proxy handler calls: JSON parse, model
resolution, the engine, orjson re-encode when something changed) and, separately, the pure
`rewrite()` on the already-parsed body. Figures are medians over several rounds; on a shared
machine read them as ranges. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import orjson

from sidecar.config import Dialect, SidecarConfig
from sidecar.rewrite.engine import Policy, rewrite
from sidecar.rewrite.pipeline import RequestPipeline

PATH = "/v1/chat/completions"
SYSTEM = {"role": "system", "content": "You are a helpful assistant for the accounts team."}


def conversation(target_bytes: int) -> list[dict[str, str]]:
    """A realistic long chat history of about `target_bytes` of JSON."""
    messages = [SYSTEM]
    turn = 0
    while len(orjson.dumps(messages)) < target_bytes:
        messages.append({"role": "user", "content": f"Question {turn}: " + "please check invoice 4711 " * 12})
        messages.append(
            {"role": "assistant", "content": f"Answer {turn}: " + "the invoice was paid on time " * 14}
        )
        turn += 1
    return messages


SHORT = [SYSTEM, {"role": "user", "content": "Summarise the attached report in three bullet points."}]
LEGACY = {"max_tokens": 512, "temperature": 0.2, "top_p": 0.9, "parallel_tool_calls": False}
BODIES: dict[str, dict[str, object]] = {
    "no-op (gpt-4o, 0.2 KB)": {"model": "gpt-4o", "messages": SHORT, **LEGACY},
    "typical rewrite (o4-mini, 0.2 KB)": {"model": "o4-mini", "messages": SHORT, **LEGACY},
    "100 KB conversation, no-op (gpt-4o)": {"model": "gpt-4o", "messages": conversation(100_000), **LEGACY},
    "100 KB conversation, rewrite (o4-mini)": {
        "model": "o4-mini",
        "messages": conversation(100_000),
        **LEGACY,
    },
    "100 KB conversation, role rewrite (o1-mini)": {
        "model": "o1-mini",
        "messages": conversation(100_000),
        **LEGACY,
    },
}


def median_us(fn: Callable[[], object], rounds: int, budget_s: float) -> float:
    """Median per-call time over `rounds` batches, each sized to take about budget_s / rounds."""
    start = time.perf_counter()
    calls = 0
    while time.perf_counter() - start < 0.05:  # calibrate
        fn()
        calls += 1
    per_call = (time.perf_counter() - start) / calls
    batch = max(1, int(budget_s / rounds / per_call))
    samples = []
    for _ in range(rounds):
        t0 = time.perf_counter_ns()
        for _ in range(batch):
            fn()
        samples.append((time.perf_counter_ns() - t0) / batch / 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    args = parser.parse_args()
    rounds, budget = (3, 0.2) if args.quick else (7, 1.0)

    pipeline = RequestPipeline(SidecarConfig())
    resolver = pipeline.resolver(None)
    print(f"{'body':44s} {'size':>8s} {'changes':>7s} {'prepare µs':>11s} {'rewrite µs':>11s}")
    for name, body in BODIES.items():
        raw = orjson.dumps(body)
        prepared = pipeline.prepare(Dialect.OPENAI, PATH, "application/json", None, raw)
        profile = resolver.resolve(PATH, body["model"])
        full = median_us(
            lambda raw=raw: pipeline.prepare(Dialect.OPENAI, PATH, "application/json", None, raw),
            rounds,
            budget,
        )
        core = median_us(
            lambda body=body, profile=profile: rewrite(Dialect.OPENAI, profile, body, Policy()),
            rounds,
            budget,
        )
        print(f"{name:44s} {len(raw):8d} {len(prepared.changes):7d} {full:11.1f} {core:11.1f}")


if __name__ == "__main__":
    main()
