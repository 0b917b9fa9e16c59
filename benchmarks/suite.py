"""One benchmark run: upstreams, the proxies under test, the load, and the figures.

Layout on a 2-core machine: the proxy under test (nginx or the sidecar) is pinned to CPU 0; the
load generators (wrk, the streaming client in this process) and the upstreams are pinned to CPU 1.
Every scenario runs against every target back to back, in an order that rotates each round, so
drift on a shared machine hits all targets alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmarks import nginx, procs
from benchmarks.payloads import BODIES
from benchmarks.procs import Cpu, Started
from benchmarks.streams import StreamResult, StreamScenario, hold_idle_streams, run_streams
from benchmarks.wrk import run_wrk

__all__ = ["Options", "Results", "run"]

DIRECT, NGINX, SIDECAR = "direct", "nginx", "sidecar"
CONNECTIONS = (1, 16, 64)
STREAM_SCENARIOS = (
    StreamScenario("32 streams x 50 events, 20 ms apart", streams=32, events=50, gap_ms=20),
    StreamScenario("64 streams x 200 events, 0 ms apart", streams=64, events=200, gap_ms=0),
)
SMOKE_STREAM_SCENARIOS = (
    StreamScenario("4 streams x 5 events, 5 ms apart", streams=4, events=5, gap_ms=5),
    StreamScenario("8 streams x 20 events, 0 ms apart", streams=8, events=20, gap_ms=0),
)
STREAM_TIMEOUT = 60.0


@dataclass
class Options:
    rounds: int = 3  # an odd count: the median of 3 drops one outlier on a shared machine
    seconds: float = 3.0  # per wrk measurement
    idle_streams: int = 1000
    workers_check: bool = True
    pin: bool = True
    smoke: bool = False  # tiny: streams only (+ one short wrk pass when wrk exists), no pinning
    python: str = sys.executable
    sidecar_env: dict[str, str] = field(default_factory=dict)
    sidecar_config: dict[str, object] = field(default_factory=dict)  # merged over the bench config
    log: Callable[[str], None] = print

    @classmethod
    def quick(cls) -> Options:
        return cls(rounds=1, seconds=1.0)

    @classmethod
    def smoke_test(cls) -> Options:
        return cls(rounds=1, seconds=1.0, idle_streams=0, workers_check=False, pin=False, smoke=True)


@dataclass
class WrkSample:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_req: float | None
    errors: int


@dataclass
class StreamSample:
    ttfb_p50_ms: float
    worst_gap_inflation_ms: float
    cpu_us_per_event: float | None
    identical: bool
    streams: int
    failed: int


@dataclass
class Memory:
    idle_mib: float = 0.0
    peak_mib: float = 0.0
    idle_streams_mib: float | None = None
    idle_streams_live: int = 0


@dataclass
class Results:
    options: Options
    targets: list[str]
    tools_missing: list[str]
    nonstream: dict[tuple[str, int], dict[str, list[WrkSample]]] = field(default_factory=dict)
    streams: dict[str, dict[str, list[StreamSample]]] = field(default_factory=dict)
    memory: dict[str, Memory] = field(default_factory=dict)
    workers: dict[int, list[WrkSample]] = field(default_factory=dict)
    elapsed: float = 0.0
    load: tuple[str, str] = ("", "")  # /proc/loadavg at start and end: how shared the machine was
    versions: dict[str, str] = field(default_factory=dict)


@dataclass
class _Target:
    name: str
    process: Started | None
    port: int
    json_path: str
    stream_path: str
    stream_port: int


def sidecar_config(
    port: int, admin: int, json_port: int, sse_port: int, extra: dict[str, object]
) -> dict[str, object]:
    config: dict[str, object] = {
        "listen": {"proxy": f"127.0.0.1:{port}", "admin": f"127.0.0.1:{admin}"},
        "routes": [
            {
                "prefix": "/v1",
                "upstream": f"http://127.0.0.1:{json_port}",
                "dialect": "openai",
                "name": "json",
            },
            {
                "prefix": "/stream",
                "upstream": f"http://127.0.0.1:{sse_port}",
                "dialect": "openai",
                "strip_prefix": True,
                "name": "stream",
            },
        ],
        # 1,000 concurrent streams need 1,000 upstream connections at once.
        "upstream": {"pool_max_connections": 4096},
        # nginx runs with `access_log off`; compare like with like.
        "logging": {"level": "warning", "access_log": False},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}  # type: ignore[dict-item]
        else:
            config[key] = value
    return config


class _Bench:
    def __init__(self, opts: Options, tmp: Path) -> None:
        self.opts = opts
        self.tmp = tmp
        self.load_cpu = "1" if opts.pin else None
        self.proxy_cpu = "0" if opts.pin else None
        self.started: list[Started] = []
        self.body_files = {}
        for kind, body in BODIES.items():
            path = tmp / f"{kind}.json"
            path.write_bytes(body)
            self.body_files[kind] = path

    def log(self, text: str) -> None:
        self.opts.log(text)

    def _start(
        self, name: str, argv: list[str], port: int, cpus: str | None, env: dict[str, str] | None = None
    ) -> Started:
        proc = procs.start(name, argv, port, cpus, self.tmp / f"{name}.log", env)
        self.started.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            proc.stop()

    def start_upstreams(self, json: bool) -> tuple[int, int]:
        """The fixed-JSON nginx (when `json`) and the SSE upstream; returns their ports."""
        json_port, sse_port = procs.free_port(), procs.free_port()
        if json:
            self._start(
                "json-upstream",
                nginx.nginx_argv(
                    self.tmp / "json-upstream",
                    nginx.json_upstream_conf(self.tmp / "json-upstream", json_port),
                ),
                json_port,
                self.load_cpu,
            )
        self._start(
            "sse-upstream",
            [self.opts.python, "-m", "benchmarks.sse_upstream", "--port", str(sse_port)],
            sse_port,
            self.load_cpu,
        )
        return json_port, sse_port

    def start_nginx(self, json_port: int, sse_port: int) -> Started:
        port = procs.free_port()
        prefix = self.tmp / "nginx-proxy"
        return self._start(
            NGINX,
            nginx.nginx_argv(prefix, nginx.reverse_proxy_conf(prefix, port, json_port, sse_port)),
            port,
            self.proxy_cpu,
        )

    def start_sidecar(
        self, name: str, json_port: int, sse_port: int, cpus: str | None, workers: int | None = None
    ) -> Started:
        port, admin = procs.free_port(), procs.free_port()
        config = sidecar_config(port, admin, json_port, sse_port, self.opts.sidecar_config)
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        argv = [self.opts.python, "-m", "sidecar", "serve", "--config", str(path)]
        if workers is not None:
            argv += ["--workers", str(workers)]
        env = {**os.environ, **self.opts.sidecar_env}
        return self._start(name, argv, port, cpus, env)

    # -- measurements ------------------------------------------------------------------------

    def wrk(self, target: _Target, kind: str, conns: int, seconds: float, cpus: str | None) -> WrkSample:
        url = f"http://127.0.0.1:{target.port}{target.json_path}"
        if target.process is None:
            result = run_wrk(url, self.body_files[kind], conns, seconds, cpus)
            return WrkSample(result.rps, result.p50_ms, result.p99_ms, None, result.errors)
        with Cpu(target.process.pid) as cpu:
            result = run_wrk(url, self.body_files[kind], conns, seconds, cpus)
        per_req = cpu.used * 1000 / result.requests if result.requests else float("nan")
        return WrkSample(result.rps, result.p50_ms, result.p99_ms, per_req, result.errors)

    def stream(self, target: _Target, scenario: StreamScenario) -> StreamSample:
        async def go() -> StreamResult:
            return await run_streams(
                "127.0.0.1", target.stream_port, target.stream_path, scenario, STREAM_TIMEOUT
            )

        if target.process is None:
            result = asyncio.run(go())
            cpu_used = None
        else:
            with Cpu(target.process.pid) as cpu:
                result = asyncio.run(go())
            cpu_used = cpu.used
        per_event = cpu_used * 1e6 / result.events if cpu_used is not None and result.events else None
        return StreamSample(
            ttfb_p50_ms=result.ttfb_p50 * 1000,
            worst_gap_inflation_ms=result.worst_gap_inflation * 1000,
            cpu_us_per_event=per_event,
            identical=result.all_identical and result.identical == scenario.streams,
            streams=result.identical,
            failed=result.failed,
        )

    def idle_streams(self, target: _Target) -> tuple[float, int]:
        assert target.process is not None

        async def go() -> tuple[float, int]:
            live, writers = await hold_idle_streams(
                "127.0.0.1", target.stream_port, target.stream_path, self.opts.idle_streams, timeout=60
            )
            await asyncio.sleep(0.5)
            rss = procs.rss_kib(target.process.pid) / 1024  # type: ignore[union-attr]
            for writer in writers:
                writer.close()
            await asyncio.sleep(0.5)
            return rss, live

        return asyncio.run(go())


def _rotate(items: list[str], by: int) -> list[str]:
    by %= len(items)
    return items[by:] + items[:by]


def _versions(python: str) -> dict[str, str]:
    import subprocess

    out: dict[str, str] = {}
    code = (
        "import sys, aiohttp, platform;"
        "print('python', platform.python_version());print('aiohttp', aiohttp.__version__)\n"
        "try:\n import uvloop; print('uvloop', uvloop.__version__)\nexcept ImportError: print('uvloop', 'absent')"
    )
    res = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=30, check=False)
    for line in res.stdout.splitlines():
        name, _, value = line.partition(" ")
        out[name] = value
    for tool, argv in (("nginx", ["nginx", "-v"]), ("wrk", ["wrk", "-v"])):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            res = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            text = (res.stderr + res.stdout).strip().splitlines()
            # "nginx version: nginx/1.22.1", "wrk debian/4.1.0-3+b2 [epoll] ..."
            words = text[0].split() if text else []
            out[tool] = (
                words[-1].rpartition("/")[2]
                if tool == "nginx" and words
                else (words[1] if len(words) > 1 else "?")
            )
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                out["cpu"] = line.split(":", 1)[1].strip()
                break
    out["cores"] = str(os.cpu_count())
    return out


@contextlib.contextmanager
def _pinned(cpus: set[int] | None) -> Iterator[None]:
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def run(opts: Options) -> Results:
    """Everything in one run; processes are always stopped, even on failure.

    Without nginx (smoke mode only) the JSON upstream and the reference are skipped; without wrk,
    the non-streaming load is.
    """
    started_at = time.perf_counter()
    if opts.pin and (os.cpu_count() or 1) < 2:
        opts.log("fewer than 2 CPUs: running without pinning")
        opts.pin = False
    missing = [t.command for t in procs.missing_tools() if opts.pin or t.command != "taskset"]
    have_nginx, have_wrk = "nginx" not in missing, "wrk" not in missing
    if not opts.smoke and missing:
        raise RuntimeError(f"missing tools: {', '.join(missing)}")
    targets = [DIRECT, NGINX, SIDECAR] if have_nginx else [DIRECT, SIDECAR]
    results = Results(options=opts, targets=targets, tools_missing=missing, versions=_versions(opts.python))
    load_start = _loadavg()
    with tempfile.TemporaryDirectory(prefix="sidecar-bench-") as tmpdir, _pinned({1} if opts.pin else None):
        bench = _Bench(opts, Path(tmpdir))
        try:
            _measure(bench, results, have_nginx, have_wrk and have_nginx)
        finally:
            bench.stop_all()
    results.elapsed = time.perf_counter() - started_at
    results.load = (load_start, _loadavg())
    return results


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _measure(bench: _Bench, results: Results, have_nginx: bool, have_wrk: bool) -> None:
    opts = bench.opts
    json_port, sse_port = bench.start_upstreams(json=have_nginx)
    sidecar = bench.start_sidecar(SIDECAR, json_port, sse_port, bench.proxy_cpu)
    stream_path = "/stream/v1/chat/completions"
    targets = {
        DIRECT: _Target(DIRECT, None, json_port, "/v1/chat/completions", "/v1/chat/completions", sse_port),
        SIDECAR: _Target(SIDECAR, sidecar, sidecar.port, "/v1/chat/completions", stream_path, sidecar.port),
    }
    if have_nginx:
        ngx = bench.start_nginx(json_port, sse_port)
        targets[NGINX] = _Target(NGINX, ngx, ngx.port, "/v1/chat/completions", stream_path, ngx.port)
    names = [t for t in results.targets if t in targets]
    proxies = [t for t in names if t != DIRECT]
    # Idle: started and warmed by a handful of requests (imports done, pools open), no load.
    warm = StreamScenario("warm-up", streams=2, events=3, gap_ms=0)
    for name in proxies:
        bench.stream(targets[name], warm)
        if have_wrk and not opts.smoke:
            url = f"http://127.0.0.1:{targets[name].port}/v1/chat/completions"
            run_wrk(url, bench.body_files["rewrite"], 2, 1, bench.load_cpu)
        time.sleep(0.3)
        results.memory[name] = Memory(idle_mib=procs.rss_kib(_pid(targets[name])) / 1024)

    scenarios = SMOKE_STREAM_SCENARIOS if opts.smoke else STREAM_SCENARIOS
    combos = [("rewrite", 16)] if opts.smoke else [(k, c) for k in BODIES for c in CONNECTIONS]
    for rnd in range(opts.rounds):
        if have_wrk:
            for i, (kind, conns) in enumerate(combos):
                bench.log(f"round {rnd + 1}/{opts.rounds}: wrk {kind} body, {conns} connections")
                for name in _rotate(names, rnd + i):
                    sample = bench.wrk(targets[name], kind, conns, opts.seconds, bench.load_cpu)
                    results.nonstream.setdefault((kind, conns), {}).setdefault(name, []).append(sample)
        for i, scenario in enumerate(scenarios):
            bench.log(f"round {rnd + 1}/{opts.rounds}: {scenario.name}")
            for name in _rotate(names, rnd + i):
                streamed = bench.stream(targets[name], scenario)
                results.streams.setdefault(scenario.name, {}).setdefault(name, []).append(streamed)

    for name in proxies:
        results.memory[name].peak_mib = procs.rss_kib(_pid(targets[name]), "VmHWM") / 1024
    if opts.idle_streams:
        for name in proxies:
            bench.log(f"{opts.idle_streams} concurrent idle streams through {name}")
            rss, live = bench.idle_streams(targets[name])
            results.memory[name].idle_streams_mib = rss
            results.memory[name].idle_streams_live = live

    if opts.workers_check and have_wrk:
        _measure_workers(bench, results, json_port, sse_port)


def _pid(target: _Target) -> int:
    assert target.process is not None
    return target.process.pid


def _measure_workers(bench: _Bench, results: Results, json_port: int, sse_port: int) -> None:
    """1 vs 2 sidecar processes, nothing pinned (the kernel places proxy, wrk and upstream)."""
    opts = bench.opts
    procs_by_n = {
        n: bench.start_sidecar(f"sidecar-{n}w", json_port, sse_port, cpus=None, workers=n) for n in (1, 2)
    }
    for proc in procs_by_n.values():
        run_wrk(f"http://127.0.0.1:{proc.port}/v1/chat/completions", bench.body_files["rewrite"], 64, 1, None)
    with _pinned({0, 1}):
        for rnd in range(opts.rounds):
            order = (1, 2) if rnd % 2 == 0 else (2, 1)
            for n in order:
                bench.log(f"round {rnd + 1}/{opts.rounds}: --workers {n}, 64 connections, unpinned")
                target = _Target(f"w{n}", procs_by_n[n], procs_by_n[n].port, "/v1/chat/completions", "", 0)
                results.workers.setdefault(n, []).append(bench.wrk(target, "rewrite", 64, opts.seconds, None))


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")
