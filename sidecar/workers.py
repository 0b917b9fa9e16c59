"""`sidecar serve --workers N`: N single-event-loop processes sharing the listeners via SO_REUSEPORT.

One Python event loop uses at most one core. Each worker is the ordinary single-process server,
started as `sidecar serve --reuse-port` on the addresses this parent resolved, so every worker has
its own listening socket and the kernel spreads new connections across them (no shared accept
queue, no thundering herd). The parent runs no proxy code; it supervises:

- SIGTERM / SIGINT: forwarded to every worker; each drains (`shutdown.drain_seconds`) and exits.
  The parent exits 0 once all exited 0, else 1. A worker still alive `drain_seconds + 10` seconds
  later is killed.
- SIGHUP: forwarded; every worker reloads its own config (`sidecar.reload`).
- A worker that exits on its own has crashed: it is restarted after a backoff (0.5 s, doubling up
  to 10 s). More than `MAX_CRASHES` crashes within `CRASH_WINDOW_SECONDS` is not one bad request
  but a broken host or config: the parent stops the other workers and exits 1, so the
  orchestrator's restart policy and alerts take over. A worker that dies before it ever listened
  fails the start the same way.
- The admin listener: every worker serves it too (also SO_REUSEPORT). Probes reach any worker;
  `/metrics` on any worker merges all workers' samples (multi-process mode of `sidecar.metrics`,
  whose directory this parent prepares and whose dead workers' gauges it retires).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sidecar.config import SidecarConfig, parse_host_port
from sidecar.logs import event
from sidecar.metrics import (
    MULTIPROC_ENV,
    cleanup_multiprocess_dir,
    prepare_multiprocess_dir,
    worker_exited,
)

__all__ = ["CRASH_WINDOW_SECONDS", "MAX_CRASHES", "Supervisor", "die_with_supervisor", "format_address"]

MAX_CRASHES = 5
CRASH_WINDOW_SECONDS = 60.0
START_TIMEOUT_SECONDS = 60.0
KILL_GRACE_SECONDS = 10.0
_BACKOFF_FIRST, _BACKOFF_MAX = 0.5, 10.0


def die_with_supervisor() -> None:
    """In a worker: get SIGTERM (and so drain and exit) if the supervisor dies without stopping us,
    e.g. killed by SIGKILL or the OOM killer, instead of serving on as an orphan (Linux prctl)."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    if os.getppid() == 1:  # the supervisor was already gone before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reserve(address: str) -> tuple[str, socket.socket | None]:
    """A concrete HOST:PORT for `address`. Port 0 is resolved by binding (never listening on) a
    SO_REUSEPORT socket that stays open, so every worker, and every restarted worker, binds the
    same port; a socket that does not listen receives no connections."""
    host, port = parse_host_port(address)
    if port != 0:
        return format_address(host, port), None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, 0))
    return format_address(host, int(sock.getsockname()[1])), sock


@dataclass
class _Worker:
    index: int
    proc: asyncio.subprocess.Process
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    """Starts, watches, restarts and stops the worker processes of one `serve --workers N`."""

    def __init__(
        self, config: SidecarConfig, config_path: Path | None, workers: int, loop: str = "asyncio"
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.count = workers
        self.loop_name = loop
        self.workers: dict[int, _Worker] = {}
        self.stopping = False
        self.failed = False
        self._crashes: deque[float] = deque(maxlen=MAX_CRASHES + 1)
        self._exit_codes: list[int] = []
        self._all_exited = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._env: dict[str, str] = {}

    def _argv(self, ready_fd: int) -> list[str]:
        argv = [sys.executable, "-m", "sidecar", "serve", "--reuse-port", "--workers", "1"]
        argv += ["--loop", self.loop_name, "--ready-fd", str(ready_fd)]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        return argv

    async def _spawn(self, index: int) -> _Worker:
        read_fd, write_fd = os.pipe()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self._argv(write_fd), pass_fds=(write_fd,), env=self._env, stdin=asyncio.subprocess.DEVNULL
            )
        finally:
            os.close(write_fd)
        worker = _Worker(index, proc)
        self.workers[index] = worker
        loop = asyncio.get_running_loop()

        def on_ready() -> None:
            # One byte when the worker listens; EOF (b"") when it exits without ever listening.
            loop.remove_reader(read_fd)
            if os.read(read_fd, 1):
                worker.ready.set()
            os.close(read_fd)

        loop.add_reader(read_fd, on_ready)
        self._track(self._watch(worker))
        return worker

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, worker: _Worker) -> None:
        code = await worker.proc.wait()
        worker_exited(worker.proc.pid)
        if self.workers.get(worker.index) is worker:
            del self.workers[worker.index]
        if self.stopping:
            self._exit_codes.append(code)
            event("worker_exited", worker=worker.index, pid=worker.proc.pid, code=code)
            if not self.workers:
                self._all_exited.set()
            return
        now = time.monotonic()
        self._crashes.append(now)
        recent = [t for t in self._crashes if now - t <= CRASH_WINDOW_SECONDS]
        event(
            "worker_crashed", worker=worker.index, pid=worker.proc.pid, code=code, recent_crashes=len(recent)
        )
        if not worker.ready.is_set() or len(recent) > MAX_CRASHES:
            self.failed = True
            self.stop()
            return
        delay = min(_BACKOFF_FIRST * 2 ** (len(recent) - 1), _BACKOFF_MAX)
        await asyncio.sleep(delay)
        if not self.stopping:
            replacement = await self._spawn(worker.index)
            event("worker_restarted", worker=worker.index, pid=replacement.proc.pid)

    def signal_workers(self, sig: signal.Signals) -> None:
        for worker in list(self.workers.values()):
            with contextlib.suppress(ProcessLookupError):
                worker.proc.send_signal(sig)

    def stop(self) -> None:
        """Drain every worker (idempotent); kill stragglers after the drain time plus a grace."""
        if self.stopping:
            return
        self.stopping = True
        event("workers_stopping", workers=len(self.workers))
        if not self.workers:
            self._all_exited.set()
            return
        self.signal_workers(signal.SIGTERM)
        self._track(self._kill_after(self.config.shutdown.drain_seconds + KILL_GRACE_SECONDS))

    async def _kill_after(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
        if self.workers:
            event("workers_killed", workers=len(self.workers), after_seconds=seconds)
            self.signal_workers(signal.SIGKILL)

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.signal_workers, signal.SIGHUP)

        proxy, proxy_hold = _reserve(self.config.listen.proxy)
        admin, admin_hold = _reserve(self.config.listen.admin)
        own_metrics_dir = MULTIPROC_ENV not in os.environ
        metrics_dir = prepare_multiprocess_dir(os.environ.get(MULTIPROC_ENV))
        self._env = {**os.environ, "SIDECAR_LISTEN": proxy, "SIDECAR_ADMIN_LISTEN": admin}
        try:
            for index in range(self.count):
                await self._spawn(index)
            await self._wait_ready()
            if not self.stopping:
                event(
                    "workers_ready",
                    workers=self.count,
                    pids=[w.proc.pid for w in self.workers.values()],
                    proxy=proxy,
                    admin=admin,
                )
            await self._all_exited.wait()
        finally:
            self.stop()
            await self._all_exited.wait()
            for task in list(self._tasks):
                task.cancel()
            for sock in (proxy_hold, admin_hold):
                if sock is not None:
                    sock.close()
            if own_metrics_dir:
                cleanup_multiprocess_dir(metrics_dir)
        clean = not self.failed and all(code == 0 for code in self._exit_codes)
        event("stopped", workers=self.count, exit_codes=self._exit_codes, failed=self.failed)
        return 0 if clean else 1

    async def _wait_ready(self) -> None:
        """Until every worker listens, or the parent is stopping (a worker died first), or the
        start timed out (then stop and fail)."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not self.stopping and not all(w.ready.is_set() for w in self.workers.values()):
            if time.monotonic() > deadline:
                event("workers_start_timeout", seconds=START_TIMEOUT_SECONDS)
                self.failed = True
                self.stop()
                return
            await asyncio.sleep(0.05)
