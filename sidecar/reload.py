"""Hot reload: re-read the config file when it changes (or on SIGHUP) and swap the runtime whole.

Kubernetes updates a ConfigMap volume by writing a new timestamped directory and atomically
renaming the `..data` symlink onto it; `config.yaml` itself is a symlink through `..data`. An
inotify watch on the file sees nothing, so the file is polled instead: `os.stat` (which follows the
symlinks, so the swap shows as a new inode) and, when that changes, a hash of the content, so a swap
that only changed another key of the ConfigMap is not a reload.

A valid config becomes a new immutable `Runtime` assigned in one statement on the event loop: a
request already running keeps the runtime it captured, the next one gets the new one, and no
connection is touched. An invalid config changes nothing; it is logged with its located errors and
counted. Each worker process runs its own watcher, so reload needs no coordination between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sidecar.config import ConfigError, SidecarConfig, load_config
from sidecar.logs import event, set_levels
from sidecar.state import Runtime, SidecarState

__all__ = ["RESTART_REQUIRED", "ConfigWatcher", "pin_restart_required"]

# Settings consumed once at startup (bound sockets, the pooled upstream client, the HTTP parser's
# limits, the runner's drain timeout). A reload keeps their running values and says so.
RESTART_REQUIRED: tuple[str, ...] = (
    "listen.proxy",
    "listen.admin",
    "upstream",
    "limits.max_header_bytes",
    "shutdown.drain_seconds",
)


def _get(model: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        model = getattr(model, part)
    return model


def _with(model: Any, dotted: str, value: Any) -> Any:
    """A copy of frozen `model` with the field at `dotted` replaced."""
    head, _, rest = dotted.partition(".")
    inner = _with(getattr(model, head), rest, value) if rest else value
    return model.model_copy(update={head: inner})


def pin_restart_required(new: SidecarConfig, running: SidecarConfig) -> tuple[SidecarConfig, list[str]]:
    """`new` with every restart-only setting put back to its running value, and the ones that differed."""
    pinned = [path for path in RESTART_REQUIRED if _get(new, path) != _get(running, path)]
    for path in pinned:
        new = _with(new, path, _get(running, path))
    return new, pinned


@dataclass(frozen=True)
class _Seen:
    """What the file looked like when last examined: stat identity, and content hash when read."""

    stat: tuple[int, ...] | None
    digest: str | None


def _stat(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.stat(path)  # follows symlinks: a `..data` swap shows up as a new inode
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class ConfigWatcher:
    """Polls the config file and reloads on change; `request_reload()` (SIGHUP) forces a reload.

    Use as an async context manager around the serving period: it starts the polling task on
    entry and cancels it on exit, so no reload races the drain.
    """

    def __init__(self, state: SidecarState, path: Path | None, env: Mapping[str, str] | None = None) -> None:
        self.state = state
        self.path = path
        self._env = env
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._seen = self._look() if path is not None else _Seen(None, None)

    def _look(self) -> _Seen:
        assert self.path is not None
        return _Seen(_stat(self.path), _digest(self.path))

    def request_reload(self) -> None:
        """Ask for a reload at the next turn of the loop (safe to call from a signal handler)."""
        self._wake.set()

    async def poll(self) -> bool | None:
        """One check of the file: None when unchanged, else whether the changed file was applied."""
        if self.path is None:
            return None
        stat = _stat(self.path)
        if stat == self._seen.stat:
            return None
        seen = _Seen(stat, _digest(self.path) if stat is not None else None)
        same_content = seen.digest == self._seen.digest
        self._seen = seen
        if same_content:
            return None  # another key of the ConfigMap changed, or a touch: nothing to apply
        return await self.reload("file_changed")

    async def reload(self, trigger: str) -> bool:
        """Load, validate and swap in the config; on any failure keep the running one."""
        started = time.perf_counter()
        metrics = self.state.metrics
        running = self.state.runtime.config
        source = str(self.path) if self.path is not None else "<defaults>"
        try:
            new, pinned, runtime = await asyncio.to_thread(self._build, running)
        except ConfigError as exc:
            errors = exc.errors
        except Exception as exc:  # a reload must never take down a serving process
            errors = [f"{source}: {type(exc).__name__}: {exc}"]
        else:
            self.state.runtime = runtime  # the atomic swap: one assignment on the loop thread
            metrics.allow_rules(runtime.pipeline.rule_labels())  # before configure: it pre-initialises them
            metrics.allow_families(runtime.pipeline.knowledge.by_id)
            metrics.configure(new)
            metrics.record_reload(True)
            if new.logging != running.logging:
                set_levels(new.logging.level, new.logging.access_log, new.logging.loggers)
            event(
                "config_reloaded",
                path=source,
                trigger=trigger,
                changed=sorted(k for k in type(new).model_fields if getattr(new, k) != getattr(running, k)),
                routes=[f"{r.prefix} -> {r.upstream} ({r.dialect.value})" for r in new.routes],
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
            )
            if pinned:
                event(
                    "config_restart_required",
                    logging.WARNING,
                    path=source,
                    fields=pinned,
                    detail="these settings only take effect at startup; the running values are kept "
                    "until the process restarts (roll the pods to apply them)",
                )
            return True
        metrics.record_reload(False)
        event(
            "config_reload_failed",
            logging.ERROR,
            path=source,
            trigger=trigger,
            errors=errors,
            detail="the running config is unchanged and keeps serving",
        )
        return False

    def _build(self, running: SidecarConfig) -> tuple[SidecarConfig, list[str], Runtime]:
        """Off the event loop: parse, validate and compile, so streams keep flowing meanwhile."""
        new, pinned = pin_restart_required(load_config(self.path, self._env), running)
        return new, pinned, Runtime.build(new)

    async def _run(self) -> None:
        while True:
            settings = self.state.runtime.config.reload
            timeout = settings.poll_interval_seconds if settings.watch and self.path is not None else None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            try:
                if self._wake.is_set():
                    self._wake.clear()
                    if self.path is not None:
                        self._seen = self._look()  # what SIGHUP loads is what later polls compare with
                    await self.reload("signal")
                else:
                    await self.poll()
            except Exception as exc:  # a watcher that died silently would never reload again
                event("config_watch_error", logging.ERROR, error=f"{type(exc).__name__}: {exc}")

    async def __aenter__(self) -> ConfigWatcher:
        self._task = asyncio.create_task(self._run(), name="config-watcher")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
