"""`sidecar demo`: the emulator plus a sidecar in front of it, and a replay of real legacy requests.

For each request it shows what the app sent, what the upstream received (from the emulator's
record), the rule ids the sidecar applied, and the status the app got; then the same request sent
straight to the emulator, which fails the way the real provider fails. It reports what happened,
whatever happened: nothing here assumes the rewrite engine fixed anything.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

import aiohttp
import orjson

from sidecar.config import SidecarConfig, parse_host_port
from sidecar.emulator.app import Emulator
from sidecar.emulator.settings import DEFAULT_DEPLOYMENTS, EmulatorConfig
from sidecar.metrics import Metrics
from sidecar.server import Sidecar

__all__ = ["SCENARIOS", "Outcome", "Scenario", "ScenarioResult", "demo_config", "replay", "run_demo"]

_OPENAI_KEY = {"Authorization": "Bearer sk-demo-not-a-real-key"}
_AZURE_KEY = {"api-key": "demo-not-a-real-key"}
_ANTHROPIC_KEY = {"x-api-key": "sk-ant-demo-not-a-real-key", "anthropic-version": "2023-06-01"}
_HI = [{"role": "user", "content": "Say hello."}]


def demo_config(emulator_url: str, proxy: str, admin: str) -> dict[str, Any]:
    """The sidecar config of the demo (and of the tests that use the same stack): one route per
    provider the emulator plays, Azure deployment names mapped to their models, debug headers on
    so the applied rule ids are visible."""
    return {
        "listen": {"proxy": proxy, "admin": admin},
        "routes": [
            {"prefix": "/v1", "upstream": emulator_url, "dialect": "openai", "name": "openai"},
            {
                "prefix": "/anthropic",
                "upstream": emulator_url,
                "dialect": "anthropic",
                "strip_prefix": True,
                "name": "anthropic",
            },
            {"prefix": "/openai/deployments", "upstream": emulator_url, "dialect": "azure", "name": "azure"},
            # Azure's "v1 API": the plain OpenAI client, `model` = the deployment name.
            {"prefix": "/openai/v1", "upstream": emulator_url, "dialect": "azure", "name": "azure-v1"},
            {
                "prefix": "/deepseek",
                "upstream": emulator_url + "/deepseek",
                "dialect": "openai-compatible",
                "strip_prefix": True,
                "name": "deepseek",
            },
            {
                "prefix": "/litellm",
                "upstream": emulator_url + "/litellm",
                "dialect": "openai-compatible",
                "strip_prefix": True,
                "name": "litellm",
            },
        ],
        "aliases": dict(DEFAULT_DEPLOYMENTS),
        "debug": {"response_headers": True},
        "logging": {"level": "warning", "access_log": False},
        "shutdown": {"drain_seconds": 1},
    }


@dataclass(frozen=True, slots=True)
class Scenario:
    """One legacy request, as an app would send it through the sidecar."""

    key: str
    title: str
    path: str  # on the sidecar
    direct_path: str  # the same request straight to the emulator (the route's upstream path)
    body: dict[str, Any]
    headers: Mapping[str, str] = field(default_factory=lambda: dict(_OPENAI_KEY))


_AZURE_PATH = "/openai/deployments/prod-reasoner/chat/completions?api-version=2024-12-01-preview"
_DEEPSEEK_HISTORY = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "4", "reasoning_content": "2 plus 2 is 4."},
    {"role": "user", "content": "And times 3?"},
]

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        key="o4-mini",
        title="o4-mini with max_tokens and temperature (a legacy OpenAI client)",
        path="/v1/chat/completions",
        direct_path="/v1/chat/completions",
        body={"model": "o4-mini", "messages": _HI, "max_tokens": 256, "temperature": 0.2},
    ),
    Scenario(
        key="azure",
        title="Azure deployment 'prod-reasoner' (serves o4-mini; the name hides it) with max_tokens",
        path=_AZURE_PATH,
        direct_path=_AZURE_PATH,
        body={"messages": _HI, "max_tokens": 256},
        headers=_AZURE_KEY,
    ),
    Scenario(
        key="gpt-5-mini-stream",
        title="gpt-5-mini, streaming, with max_tokens and top_p",
        path="/v1/chat/completions",
        direct_path="/v1/chat/completions",
        body={"model": "gpt-5-mini", "messages": _HI, "max_tokens": 200, "top_p": 0.9, "stream": True},
    ),
    Scenario(
        key="litellm-claude",
        title="reasoning_effort to Claude 3.7 behind a LiteLLM proxy (the seed case), streaming",
        path="/litellm/v1/chat/completions",
        direct_path="/litellm/v1/chat/completions",
        body={
            "model": "anthropic.claude-3-7-sonnet-20250219-v1:0",
            "messages": _HI,
            "max_tokens": 8192,
            "reasoning_effort": "high",
            "stream": True,
        },
    ),
    Scenario(
        key="claude-opus-4-7",
        title="Claude Opus 4.7 with temperature (Anthropic Messages API)",
        path="/anthropic/v1/messages",
        direct_path="/v1/messages",
        body={"model": "claude-opus-4-7", "max_tokens": 1024, "temperature": 0.3, "messages": _HI},
        headers=_ANTHROPIC_KEY,
    ),
    Scenario(
        key="deepseek",
        title="deepseek-reasoner with reasoning_content echoed in the history",
        path="/deepseek/chat/completions",
        direct_path="/deepseek/chat/completions",
        body={"model": "deepseek-reasoner", "messages": _DEEPSEEK_HISTORY},
    ),
    Scenario(
        key="gpt-4o",
        title="gpt-4o with max_tokens and temperature (nothing to fix: must pass byte for byte)",
        path="/v1/chat/completions",
        direct_path="/v1/chat/completions",
        body={"model": "gpt-4o", "messages": _HI, "max_tokens": 256, "temperature": 0.2},
    ),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a client got back."""

    status: int
    events: int = 0  # SSE events received (0 for a JSON answer)
    message: str | None = None  # the provider's error message, if any
    rules: tuple[str, ...] = ()  # `x-sidecar-rewrites`, when the sidecar reported any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def describe(self) -> str:
        if self.ok:
            return f"{self.status} OK" + (f", {self.events} SSE events" if self.events else "")
        message = " ".join((self.message or "(no error message)").split())  # one line
        return f"{self.status} {message[:240]}{'...' if len(message) > 240 else ''}"


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    scenario: Scenario
    sent: bytes
    via_sidecar: Outcome
    upstream_body: bytes | None  # what the emulator received through the sidecar
    direct: Outcome


def _error_message(raw: bytes) -> str | None:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw[:200].decode(errors="replace") or None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return None


async def _send(session: aiohttp.ClientSession, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
    hdrs = {"Content-Type": "application/json", **headers}
    async with session.post(url, data=body, headers=hdrs) as resp:
        raw = await resp.read()
        rules = tuple(r for r in resp.headers.get("x-sidecar-rewrites", "").split(",") if r)
        if resp.content_type == "text/event-stream":
            events = raw.count(b"\n\n")
            return Outcome(resp.status, events=events, rules=rules)
        return Outcome(resp.status, message=None if resp.ok else _error_message(raw), rules=rules)


async def replay(
    emulator: Emulator, sidecar_url: str, scenarios: tuple[Scenario, ...] = SCENARIOS
) -> list[ScenarioResult]:
    """Send every scenario through the sidecar, then straight to the emulator."""
    results: list[ScenarioResult] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        for sc in scenarios:
            sent = orjson.dumps(sc.body)
            emulator.clear()
            via = await _send(session, sidecar_url + sc.path, sent, sc.headers)
            received = [r.body for r in emulator.requests]
            direct = await _send(session, emulator.url + sc.direct_path, sent, sc.headers)
            results.append(ScenarioResult(sc, sent, via, received[-1] if received else None, direct))
    return results


def _diff(before: Any, after: Any, path: str) -> list[str]:
    """Leaf-level differences: `-path` removed, `+path=value` added, `~path: a -> b` changed."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = [f"-{path}{'.' if path else ''}{k}" for k in before if k not in after]
        out += [f"+{path}{'.' if path else ''}{k}={_short(after[k])}" for k in after if k not in before]
        for k in before:
            if k in after:
                out += _diff(before[k], after[k], f"{path}{'.' if path else ''}{k}")
        return out
    if isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            d for i, (b, a) in enumerate(zip(before, after, strict=True)) for d in _diff(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [f"~{path}: {_short(before)} -> {_short(after)}"]


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."


def _changes(sent: bytes, got: bytes | None) -> str:
    """A one-line summary of how the forwarded body differs from the sent one."""
    if got is None:
        return "nothing reached the upstream"
    if got == sent:
        return "identical bytes"
    try:
        before, after = orjson.loads(sent), orjson.loads(got)
    except orjson.JSONDecodeError:
        return "different bytes"
    return ", ".join(_diff(before, after, "")) or "same JSON, different bytes"


def print_results(results: list[ScenarioResult], out: Callable[[str], None]) -> None:
    for n, r in enumerate(results, 1):
        sc = r.scenario
        out(f"\n[{n}/{len(results)}] {sc.title}")
        out(f"  app sent         POST {sc.path}")
        out(f"                   {r.sent.decode()}")
        if r.upstream_body is not None and r.upstream_body != r.sent:
            out(f"  upstream got     {r.upstream_body.decode(errors='replace')}")
        out(f"  changes          {_changes(r.sent, r.upstream_body)}")
        out(f"  rules applied    {', '.join(r.via_sidecar.rules) or 'none'}")
        out(f"  app got          {r.via_sidecar.describe()}")
        out(f"  without sidecar  {r.direct.describe()}")
    fixed = sum(1 for r in results if r.via_sidecar.ok and not r.direct.ok)
    ok_via = sum(1 for r in results if r.via_sidecar.ok)
    ok_direct = sum(1 for r in results if r.direct.ok)
    out(
        f"\nsummary: {ok_via}/{len(results)} succeeded through the sidecar, "
        f"{ok_direct}/{len(results)} straight to the provider; {fixed} fixed by the sidecar"
    )


async def rewrite_counters(admin_url: str) -> list[str]:
    """The non-zero `sidecar_rewrites_total` samples from the admin `/metrics` (the registry
    pre-creates every known label set at zero, which is noise here)."""
    async with aiohttp.ClientSession() as session, session.get(admin_url + "/metrics") as resp:
        text = await resp.text()
    return [
        line
        for line in text.splitlines()
        if line.startswith("sidecar_rewrites_total") and float(line.rsplit(" ", 1)[1]) != 0
    ]


def _bindable(address: str) -> str:
    """`address` if it can be bound now, else the same host on an ephemeral port."""
    host, port = parse_host_port(address)
    if port == 0:
        return address
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds: TIME_WAIT is fine
        try:
            s.bind((host, port))
        except OSError:
            return f"[{host}]:0" if ":" in host else f"{host}:0"
    return address


async def run_demo(
    proxy: str = "127.0.0.1:8080",
    admin: str = "127.0.0.1:9090",
    once: bool = False,
    stdout: TextIO | None = None,
) -> list[ScenarioResult]:
    """Start both servers, replay, print, then stay up until SIGINT/SIGTERM unless `once`."""

    def out(line: str) -> None:
        print(line, file=stdout, flush=True)

    # Handlers go in before anything is printed: Ctrl-C must work at any point.
    stop = None if once else _stop_on_signals()

    async with Emulator(EmulatorConfig(event_count=6)) as emulator:
        config = SidecarConfig.model_validate(demo_config(emulator.url, _bindable(proxy), _bindable(admin)))
        sidecar = Sidecar(config, metrics=Metrics())
        await sidecar.start()
        try:
            url = "http://{}:{}".format(*sidecar.proxy_address)
            admin_url = "http://{}:{}".format(*sidecar.admin_address)
            out(f"emulator (strict fake providers) listening on {emulator.url}")
            out(f"sidecar listening on {url} (admin {admin_url}), in front of the emulator")
            out("routes: " + ", ".join(f"{r.prefix} -> {r.dialect.value}" for r in config.routes))
            results = await replay(emulator, url)
            print_results(results, out)
            counters = await rewrite_counters(admin_url)
            out("\nsidecar_rewrites_total from the admin /metrics:")
            for line in counters or ["  (none: no rewrite was applied)"]:
                out(f"  {line}" if not line.startswith(" ") else line)
            if stop is not None:
                example = orjson.dumps(SCENARIOS[0].body).decode()
                out(f"\nstill running; try: curl -s {url}/v1/chat/completions -H 'Authorization: Bearer x' ")
                out(f"  -H 'Content-Type: application/json' -d '{example}'")
                out("Ctrl-C to stop.")
                await stop.wait()
            return results
        finally:
            await sidecar.stop()


def _stop_on_signals() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
