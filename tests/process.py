"""Run the real `sidecar` CLI as a subprocess and find its ports from its JSON log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

import orjson
import yaml


class SidecarProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self.proxy = ""
        self.admin = ""

    async def wait_for_event(self, name: str, timeout: float = 10) -> dict[str, Any]:
        async def read() -> dict[str, Any]:
            assert self.proc.stdout is not None
            while True:
                raw = await self.proc.stdout.readline()
                if not raw:
                    raise AssertionError(f"sidecar exited before {name!r}; saw {self.lines}")
                line = orjson.loads(raw)
                self.lines.append(line)
                if line.get("event") == name:
                    return line

        return await asyncio.wait_for(read(), timeout)

    async def rest_of_output(self) -> list[dict[str, Any]]:
        assert self.proc.stdout is not None
        for raw in (await self.proc.stdout.read()).splitlines():
            self.lines.append(orjson.loads(raw))
        return self.lines


async def start_sidecar_process(
    tmp_path: Path, config: dict[str, Any], env: dict[str, str] | None = None, args: list[str] | None = None
) -> SidecarProcess:
    config.setdefault("listen", {"proxy": "127.0.0.1:0", "admin": "127.0.0.1:0"})
    path = tmp_path / "sidecar.yaml"
    path.write_text(yaml.safe_dump(config))
    argv = [sys.executable, "-m", "sidecar", *(args or ["serve", "--config", str(path)])]
    return await start_process(argv, {**os.environ, **(env or {})})


async def start_process(argv: list[str], env: dict[str, str]) -> SidecarProcess:
    """Run `argv` with exactly `env` and wait until it logs that it listens."""
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env
    )
    STARTED.append(proc)
    sp = SidecarProcess(proc)
    try:
        listening = await sp.wait_for_event("listening")
    except BaseException:
        kill_leftovers()  # a sidecar that never listened must not outlive its test
        raise
    sp.proxy = f"http://{listening['proxy']}"
    sp.admin = f"http://{listening['admin']}"
    return sp


# Every process a test started; `kill_leftovers` (run after each test by conftest) ends the ones a
# failing test left behind, whatever its workers.
STARTED: list[asyncio.subprocess.Process] = []


def kill_leftovers() -> None:
    while STARTED:
        proc = STARTED.pop()
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()  # SIGTERM: a --workers parent stops its workers too
