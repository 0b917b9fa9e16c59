"""Turn a run's samples into the markdown table (medians over rounds, sidecar as a ratio to nginx)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from benchmarks.suite import DIRECT, NGINX, SIDECAR, Results, StreamSample, WrkSample, median

__all__ = ["Check", "checks", "render"]


def _fmt(value: float | None, digits: int = 2) -> str:
    if value is None or math.isnan(value):
        return "-"
    return f"{value:.{digits}f}"


def _ratio(ours: float | None, ref: float | None) -> str:
    if ours is None or ref is None or math.isnan(ours) or math.isnan(ref) or ref == 0:
        return "-"
    return f"{ours / ref:.2f}x"


@dataclass(frozen=True)
class _Wrk:
    rps: float
    p50: float
    p99: float
    cpu: float | None
    errors: int


def _wrk(samples: list[WrkSample]) -> _Wrk:
    cpus = [s.cpu_ms_per_req for s in samples if s.cpu_ms_per_req is not None]
    return _Wrk(
        rps=median([s.rps for s in samples]),
        p50=median([s.p50_ms for s in samples]),
        p99=median([s.p99_ms for s in samples]),
        cpu=median(cpus) if cpus else None,
        errors=sum(s.errors for s in samples),
    )


@dataclass(frozen=True)
class _Stream:
    ttfb: float
    gap: float
    cpu: float | None
    identical: bool
    failed: int


def _stream(samples: list[StreamSample]) -> _Stream:
    cpus = [s.cpu_us_per_event for s in samples if s.cpu_us_per_event is not None]
    return _Stream(
        ttfb=median([s.ttfb_p50_ms for s in samples]),
        gap=median([s.worst_gap_inflation_ms for s in samples]),
        cpu=median(cpus) if cpus else None,
        identical=all(s.identical for s in samples),
        failed=sum(s.failed for s in samples),
    )


@dataclass(frozen=True)
class Check:
    goal: str
    measured: str
    met: bool | None  # None: not measured in this run


def checks(results: Results) -> list[Check]:
    """The issue's targets, evaluated on this run."""
    out: list[Check] = []
    rw16 = results.nonstream.get(("rewrite", 16), {})
    if NGINX in rw16 and SIDECAR in rw16:
        ours, ref = _wrk(rw16[SIDECAR]), _wrk(rw16[NGINX])
        if ours.cpu is not None and ref.cpu:
            ratio = ours.cpu / ref.cpu
            out.append(
                Check(
                    "rewrite body, 16 conns: CPU/request <= 4x nginx",
                    f"{ratio:.2f}x ({ours.cpu:.3f} ms)",
                    ratio <= 4,
                )
            )
        share = ours.rps / ref.rps if ref.rps else math.nan
        out.append(Check("rewrite body, 16 conns: req/s >= 30% of nginx", f"{share:.0%}", share >= 0.30))
    rw1 = results.nonstream.get(("rewrite", 1), {})
    if DIRECT in rw1 and SIDECAR in rw1:
        ours, direct = _wrk(rw1[SIDECAR]), _wrk(rw1[DIRECT])
        p50, p99 = ours.p50 - direct.p50, ours.p99 - direct.p99
        out.append(Check("1 conn: p50 added over direct <= 0.3 ms", f"{p50:.3f} ms", p50 <= 0.3))
        out.append(Check("1 conn: p99 added over direct <= 2 ms", f"{p99:.3f} ms", p99 <= 2.0))
    identical = [
        s.identical
        for per_target in results.streams.values()
        for samples in per_target.values()
        for s in samples
    ]
    if identical:
        out.append(
            Check(
                "streams byte-identical (all targets, all rounds)",
                f"{sum(identical)}/{len(identical)} runs",
                all(identical),
            )
        )
    for scenario, per_target in results.streams.items():
        if not {DIRECT, NGINX, SIDECAR} <= per_target.keys():
            continue
        s_ours, s_ref, s_direct = (_stream(per_target[t]) for t in (SIDECAR, NGINX, DIRECT))
        added = s_ours.ttfb - s_direct.ttfb
        out.append(Check(f"{scenario}: added TTFB p50 <= 1 ms", f"{added:.3f} ms", added <= 1.0))
        extra = s_ours.gap - s_ref.gap
        out.append(
            Check(
                f"{scenario}: worst gap inflation within 2 ms of nginx",
                f"{extra:+.3f} ms ({s_ours.gap:.2f} vs {s_ref.gap:.2f})",
                extra <= 2.0,
            )
        )
        if s_ours.cpu is not None and s_ref.cpu:
            ratio = s_ours.cpu / s_ref.cpu
            out.append(
                Check(f"{scenario}: CPU/event <= 5x nginx", f"{ratio:.2f}x ({s_ours.cpu:.1f} µs)", ratio <= 5)
            )
    mem = results.memory.get(SIDECAR)
    if mem is not None:
        out.append(Check("idle RSS <= 45 MB", f"{mem.idle_mib:.1f} MiB", mem.idle_mib <= 45))
        if mem.idle_streams_mib is not None:
            n = results.options.idle_streams
            ok = mem.idle_streams_mib <= 150 and mem.idle_streams_live == n
            out.append(
                Check(
                    f"{n} idle streams: RSS <= 150 MB",
                    f"{mem.idle_streams_mib:.1f} MiB ({mem.idle_streams_live} live)",
                    ok,
                )
            )
    if 1 in results.workers and 2 in results.workers:
        one, two = _wrk(results.workers[1]), _wrk(results.workers[2])
        speedup = two.rps / one.rps if one.rps else math.nan
        out.append(Check("--workers 2 >= 1.7x one worker's req/s", f"{speedup:.2f}x", speedup >= 1.7))
    return out


def render(results: Results, command: str) -> str:
    opts = results.options
    v = results.versions
    placement = (
        "proxy pinned to CPU 0, load generators and upstreams to CPU 1" if opts.pin else "nothing pinned"
    )
    lines = [
        "# Sidecar vs nginx: benchmark results",
        "",
        f"- command: `{command}`; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; run took {results.elapsed:.0f} s",
        f"- machine: {v.get('cpu', '?')}, {v.get('cores', '?')} cores; load average {results.load[0]} at start, "
        f"{results.load[1]} at the end (a load above the core count means other work shared the CPUs: "
        "req/s and latency suffer most, CPU per request least)",
        f"- versions: Python {v.get('python', '?')}, aiohttp {v.get('aiohttp', '?')}, uvloop {v.get('uvloop', '?')}, "
        f"nginx {v.get('nginx', '?')}, wrk {v.get('wrk', '?')}",
        f"- method: {placement}; {opts.rounds} round(s), targets interleaved in rotating order, medians "
        f"over rounds; wrk {opts.seconds:g} s per measurement, 1 thread.",
        "",
    ]
    if results.tools_missing:
        lines += [f"Skipped (missing tools): {', '.join(results.tools_missing)}", ""]

    if results.nonstream:
        lines += [
            "## Non-streaming (wrk, POST ~0.7 KB chat request, ~0.9 KB JSON answer)",
            "",
            "`rewrite` = o4-mini with max_tokens + temperature (needs rewriting); `plain` = gpt-4o-mini (forwarded as is).",
            "",
            "| body | conns | target | req/s | p50 ms | p99 ms | p50 added | p99 added | CPU ms/req | req/s ÷ nginx | CPU ÷ nginx |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for (kind, conns), per_target in results.nonstream.items():
            agg = {t: _wrk(s) for t, s in per_target.items()}
            direct, ref = agg.get(DIRECT), agg.get(NGINX)
            for target in results.targets:
                if target not in agg:
                    continue
                a = agg[target]
                added50 = a.p50 - direct.p50 if direct and target != DIRECT else None
                added99 = a.p99 - direct.p99 if direct and target != DIRECT else None
                is_ours = target == SIDECAR and ref is not None
                err = f" ({a.errors} errors)" if a.errors else ""
                lines.append(
                    f"| {kind} | {conns} | {target}{err} | {a.rps:,.0f} | {_fmt(a.p50, 3)} | {_fmt(a.p99, 3)} | "
                    f"{_fmt(added50, 3)} | {_fmt(added99, 3)} | {_fmt(a.cpu, 3)} | "
                    f"{_ratio(a.rps, ref.rps) if is_ours and ref else ''} | {_ratio(a.cpu, ref.cpu) if is_ours and ref else ''} |"
                )
        lines.append("")

    if results.streams:
        lines += [
            "## Streaming (asyncio client, every stream checked byte for byte)",
            "",
            "| scenario | target | TTFB p50 ms | TTFB added ms | worst gap inflation ms | CPU µs/event | byte-identical | CPU ÷ nginx |",
            "|---|---|---:|---:|---:|---:|---|---:|",
        ]
        for scenario, per_stream_target in results.streams.items():
            agg2 = {t: _stream(s) for t, s in per_stream_target.items()}
            direct_s, ref_s = agg2.get(DIRECT), agg2.get(NGINX)
            for target in results.targets:
                if target not in agg2:
                    continue
                s = agg2[target]
                added = s.ttfb - direct_s.ttfb if direct_s and target != DIRECT else None
                ratio = _ratio(s.cpu, ref_s.cpu) if target == SIDECAR and ref_s else ""
                ident = "yes" if s.identical else f"NO ({s.failed} failed)"
                lines.append(
                    f"| {scenario} | {target} | {_fmt(s.ttfb, 3)} | {_fmt(added, 3)} | {_fmt(s.gap, 2)} | "
                    f"{_fmt(s.cpu, 1)} | {ident} | {ratio} |"
                )
        lines.append("")

    if results.memory:
        lines += [
            "## Memory (RSS of the whole process tree)",
            "",
            f"| target | idle MiB | peak under load MiB | {opts.idle_streams} idle streams MiB |",
            "|---|---:|---:|---:|",
        ]
        for target, m in results.memory.items():
            streams = (
                f"{m.idle_streams_mib:.1f} ({m.idle_streams_live} live)"
                if m.idle_streams_mib is not None
                else "-"
            )
            lines.append(f"| {target} | {m.idle_mib:.1f} | {m.peak_mib:.1f} | {streams} |")
        lines.append("")

    if results.workers:
        lines += [
            "## `--workers` (rewrite body, 64 connections, nothing pinned: proxy, wrk and upstream share both cores)",
            "",
            "| workers | req/s | p50 ms | p99 ms | CPU ms/req | req/s vs 1 worker |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        base = _wrk(results.workers[1]).rps if 1 in results.workers else None
        for n, samples in sorted(results.workers.items()):
            a = _wrk(samples)
            lines.append(
                f"| {n} | {a.rps:,.0f} | {_fmt(a.p50, 3)} | {_fmt(a.p99, 3)} | {_fmt(a.cpu, 3)} | {_ratio(a.rps, base)} |"
            )
        lines.append("")

    found = checks(results)
    if found:
        lines += ["## Targets (issue 8)", "", "| goal | measured | met |", "|---|---|---|"]
        for c in found:
            lines.append(f"| {c.goal} | {c.measured} | {'yes' if c.met else 'NO'} |")
        lines.append("")
    return "\n".join(lines)
