from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from sidecar.config import SidecarConfig
from sidecar.metrics import Metrics
from sidecar.server import Sidecar
from tests.process import kill_leftovers
from tests.upstream import RecordingUpstream

# The emulator fixtures (`emulator`, `stack`) live with their helpers.
pytest_plugins = ["tests.emulated"]


@pytest.fixture
async def upstream() -> AsyncIterator[RecordingUpstream]:
    up = await RecordingUpstream().start()
    yield up
    await up.stop()


SidecarFactory = Callable[..., Any]


@pytest.fixture
async def make_sidecar() -> AsyncIterator[SidecarFactory]:
    """Start an in-process sidecar on ephemeral ports from a config dict; stopped after the test."""
    started: list[Sidecar] = []

    async def factory(**config: Any) -> Sidecar:
        config.setdefault("listen", {"proxy": "127.0.0.1:0", "admin": "127.0.0.1:0"})
        sidecar = Sidecar(SidecarConfig.model_validate(config), metrics=Metrics())
        await sidecar.start()
        started.append(sidecar)
        return sidecar

    yield factory
    for sidecar in started:
        if not sidecar.state.draining:
            await sidecar.stop()


@pytest.fixture
async def proxy(upstream: RecordingUpstream, make_sidecar: SidecarFactory) -> Sidecar:
    """A sidecar with one openai route `/v1` in front of the recording upstream."""
    return await make_sidecar(  # type: ignore[no-any-return]
        routes=[{"prefix": "/v1", "upstream": upstream.url, "dialect": "openai"}],
        shutdown={"drain_seconds": 2},
    )


@pytest.fixture(autouse=True)
def _quiet_logs() -> Iterator[None]:
    logging.getLogger("sidecar").setLevel(logging.WARNING)
    yield
    kill_leftovers()  # sidecar processes a failed test did not stop


def base_url(sidecar: Sidecar) -> str:
    host, port = sidecar.proxy_address
    return f"http://{host}:{port}"


def admin_url(sidecar: Sidecar) -> str:
    host, port = sidecar.admin_address
    return f"http://{host}:{port}"
