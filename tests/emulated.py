"""Fixtures and helpers for tests that talk to the strict emulator, directly or through a sidecar.

Registered as a pytest plugin by `tests/conftest.py`, so `emulator` and `stack` are fixtures
everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
import pytest

from sidecar.config import SidecarConfig
from sidecar.emulator import Emulator, EmulatorConfig
from sidecar.emulator.demo import demo_config
from sidecar.metrics import Metrics
from sidecar.server import Sidecar

# Credentials the emulator requires, per provider (it rejects requests without them, as they do).
OPENAI_AUTH = {"Authorization": "Bearer sk-test-openai"}
AZURE_AUTH = {"api-key": "azure-test-key"}
ANTHROPIC_AUTH = {"x-api-key": "sk-ant-test", "anthropic-version": "2023-06-01"}
AZURE_QUERY = "?api-version=2024-12-01-preview"


def auth_for(path: str) -> dict[str, str]:
    """The credential header(s) the provider behind `path` wants."""
    if "/openai/deployments" in path:
        return AZURE_AUTH
    if path.endswith("/messages"):
        return ANTHROPIC_AUTH
    return OPENAI_AUTH


@dataclass
class Answer:
    status: int
    content_type: str
    raw: bytes

    def json(self) -> Any:
        return orjson.loads(self.raw)


async def post(base: str, path: str, body: Any, headers: dict[str, str] | None = None) -> Answer:
    """POST `body` (a dict is JSON-encoded, bytes are sent as they are) with the path's credentials."""
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    hdrs = {"Content-Type": "application/json", **auth_for(path), **(headers or {})}
    async with aiohttp.ClientSession() as session, session.post(base + path, data=data, headers=hdrs) as r:
        return Answer(r.status, r.headers.get("Content-Type", ""), await r.read())


def sse_data(raw: bytes) -> list[str]:
    """The `data:` payloads of an SSE body, in order."""
    return [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]


def sse_event_names(raw: bytes) -> list[str]:
    return [line[7:] for line in raw.decode().split("\n") if line.startswith("event: ")]


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    async with Emulator(EmulatorConfig(event_count=4)) as emu:
        yield emu


@dataclass
class Stack:
    """An emulator and a sidecar in front of it, routed as `sidecar demo` routes them."""

    emulator: Emulator
    sidecar: Sidecar

    @property
    def url(self) -> str:
        host, port = self.sidecar.proxy_address
        return f"http://{host}:{port}"

    @property
    def admin(self) -> str:
        host, port = self.sidecar.admin_address
        return f"http://{host}:{port}"


@pytest.fixture
async def stack(emulator: Emulator) -> AsyncIterator[Stack]:
    config = SidecarConfig.model_validate(demo_config(emulator.url, "127.0.0.1:0", "127.0.0.1:0"))
    sidecar = Sidecar(config, metrics=Metrics())
    await sidecar.start()
    yield Stack(emulator, sidecar)
    await sidecar.stop()
