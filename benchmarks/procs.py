"""Processes under test: start them pinned, wait for their port, and read their CPU and memory from /proc."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Cpu", "Started", "Tool", "free_port", "missing_tools", "rss_kib", "start", "wait_port"]

_TICK = os.sysconf("SC_CLK_TCK")
_PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


@dataclass(frozen=True)
class Tool:
    command: str
    package: str


REQUIRED_TOOLS = (Tool("nginx", "nginx-light"), Tool("wrk", "wrk"), Tool("taskset", "util-linux"))


def missing_tools(tools: Sequence[Tool] = REQUIRED_TOOLS) -> list[Tool]:
    return [t for t in tools if shutil.which(t.command) is None]


def install_hint(tools: Sequence[Tool]) -> str:
    packages = " ".join(t.package for t in tools)
    return f"apt-get update && apt-get install -y {packages}   (Debian/Ubuntu; `nginx` works too)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """Until something accepts on 127.0.0.1:port; raise if the process died or time ran out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{proc.args!r} did not listen on port {port} within {timeout}s")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def process_tree(pid: int) -> list[int]:
    """`pid` and every live descendant (nginx workers, sidecar workers)."""
    tree = _children()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, ()))
    return out


def _task_ns(pid: int) -> int | None:
    """On-CPU nanoseconds of every thread of `pid` from /proc/<pid>/task/*/schedstat, or None
    when schedstat is unavailable (then the 10 ms tick counts of /proc/<pid>/stat are used)."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for tid in tasks:
        try:
            total += int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0])
        except FileNotFoundError:
            if not Path(f"/proc/{pid}/task/{tid}").exists():
                continue  # the thread exited meanwhile
            return None
        except OSError:
            continue
    return total


def cpu_seconds(pid: int) -> float:
    """CPU time used by the tree so far: per-thread schedstat nanoseconds when available (a
    streaming scenario uses tens of milliseconds, too little for 10 ms ticks), else utime+stime
    ticks; plus what reaped children used (cutime+cstime of the root, ticks)."""
    total = 0.0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ns = _task_ns(p)
        total += ns / 1e9 if ns is not None else (int(fields[11]) + int(fields[12])) / _TICK
        if p == pid:
            total += (int(fields[13]) + int(fields[14])) / _TICK
    return total


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """Resident memory of the tree in KiB (`VmHWM` for each process's peak)."""
    total = 0
    for p in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


class Cpu:
    """CPU used by a process tree inside a `with` block (`.used`, seconds)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self._t0 = 0.0
        self.used = 0.0

    def __enter__(self) -> Cpu:
        self._t0 = cpu_seconds(self.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        self.used = cpu_seconds(self.pid) - self._t0


@dataclass
class Started:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)


def start(
    name: str, argv: Sequence[str], port: int, cpus: str | None, log: Path, env: dict[str, str] | None = None
) -> Started:
    """Start `argv` (pinned to `cpus` with taskset when given) and wait until it listens on `port`."""
    command = ["taskset", "-c", cpus, *argv] if cpus is not None else list(argv)
    out = log.open("wb")
    proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
    out.close()
    started = Started(name, proc, port, log)
    try:
        wait_port(port, proc)
    except RuntimeError as exc:
        started.stop()
        raise RuntimeError(f"{exc}; log {log}:\n{log.read_text()[-2000:]}") from exc
    return started
