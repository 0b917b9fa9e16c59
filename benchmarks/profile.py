"""Where the sidecar's CPU goes under load: py-spy samples grouped by component.

`python -m benchmarks profile` starts the JSON upstream and one sidecar (pinned like the suite),
drives wrk at it, samples the sidecar with py-spy (`pip install py-spy`), and attributes every
sample to the component of its innermost frame (self time). The answer to "could this be 4x
nginx?" is in which components dominate and whether any of them is ours to remove.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks import nginx, procs
from benchmarks.payloads import BODIES
from benchmarks.suite import sidecar_config
from benchmarks.wrk import run_wrk

__all__ = ["COMPONENTS", "component", "profile"]

# First match wins; patterns are tried against "file (function)" of the innermost frame.
COMPONENTS: tuple[tuple[str, str], ...] = (
    ("prometheus metrics", r"prometheus_client/|sidecar/metrics\.py|sidecar/observe\.py"),
    ("logging", r"/logging/|sidecar/logs\.py"),
    ("rewrite engine + pipeline", r"sidecar/rewrite/|orjson"),
    ("sidecar handler (forward, headers, routing)", r"sidecar/"),
    ("aiohttp HTTP writer (both sides, incl. send syscalls)", r"aiohttp/http_writer\.py"),
    (
        "aiohttp client (request, connector, response)",
        r"aiohttp/(client|connector|payload|client_proto|client_reqrep)",
    ),
    (
        "aiohttp server (protocol, request, response, dispatch)",
        r"aiohttp/web_|aiohttp/http_parser|aiohttp/base_protocol",
    ),
    ("aiohttp shared (streams, helpers, multidict, yarl)", r"aiohttp/|multidict|yarl"),
    ("event loop, epoll and recv (asyncio / uvloop)", r"asyncio/|selectors\.py|uvloop"),
)


def component(frame: str) -> str:
    for name, pattern in COMPONENTS:
        if re.search(pattern, frame):
            return name
    return "other"


def _frames(raw: Path) -> Counter[str]:
    """Self-time samples per innermost frame from py-spy's raw (collapsed stack) output."""
    leaves: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            leaves[re.sub(r":\d+\)", ")", stack.split(";")[-1])] += int(count)
    return leaves


def profile(kind: str, connections: int, seconds: float, python: str = sys.executable) -> str:
    spy = shutil.which("py-spy") or str(Path(python).with_name("py-spy"))
    if not Path(spy).exists() and shutil.which(spy) is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy (or pip install -e '.[bench]')")
    with tempfile.TemporaryDirectory(prefix="sidecar-profile-") as tmpdir:
        tmp = Path(tmpdir)
        json_port, port, admin = procs.free_port(), procs.free_port(), procs.free_port()
        started = [
            procs.start(
                "json-upstream",
                nginx.nginx_argv(tmp / "up", nginx.json_upstream_conf(tmp / "up", json_port)),
                json_port,
                "1",
                tmp / "up.log",
            )
        ]
        try:
            import yaml

            config = tmp / "sidecar.yaml"
            config.write_text(yaml.safe_dump(sidecar_config(port, admin, json_port, procs.free_port(), {})))
            sidecar = procs.start(
                "sidecar",
                [python, "-m", "sidecar", "serve", "--config", str(config)],
                port,
                "0",
                tmp / "sc.log",
            )
            started.append(sidecar)
            body = tmp / "body.json"
            body.write_bytes(BODIES[kind])
            url = f"http://127.0.0.1:{port}/v1/chat/completions"
            run_wrk(url, body, connections, 1, "1")  # warm-up
            raw = tmp / "profile.txt"
            duration = max(2, round(seconds))
            sampler = subprocess.Popen(
                [
                    *("taskset", "-c", "1", spy, "record", "-r", "250", "-f", "raw", "-o", str(raw)),
                    *("-p", str(sidecar.pid), "-d", str(duration + 1)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            with procs.Cpu(sidecar.pid) as cpu:
                result = run_wrk(url, body, connections, duration, "1")
            sampler.wait(timeout=duration + 30)
            leaves = _frames(raw)
        finally:
            for proc in reversed(started):
                proc.stop()
    total = sum(leaves.values()) or 1
    per_component: Counter[str] = Counter()
    for frame, count in leaves.items():
        per_component[component(frame)] += count
    cpu_ms = cpu.used * 1000 / result.requests if result.requests else float("nan")
    lines = [
        f"# Where the sidecar's CPU goes ({kind} body, {connections} connections, py-spy self time)",
        "",
        f"{result.requests} requests, {result.rps:,.0f} req/s, {cpu_ms:.3f} ms CPU per request; "
        f"{total} samples. The share of a component times the CPU per request is its cost per request.",
        "",
        "| component | share | ≈ µs per request |",
        "|---|---:|---:|",
    ]
    for name, count in per_component.most_common():
        share = count / total
        lines.append(f"| {name} | {share:.1%} | {share * cpu_ms * 1000:.0f} |")
    lines += ["", "| top functions (self time) | share |", "|---|---:|"]
    for frame, count in leaves.most_common(25):
        lines.append(f"| `{frame}` | {count / total:.1%} |")
    return "\n".join(lines) + "\n"
