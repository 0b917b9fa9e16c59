"""`sidecar serve | check | explain | demo | emulator` (and `--version`): the operator's entry points."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from sidecar import __version__
from sidecar.config import ConfigError, SidecarConfig, load_config
from sidecar.logs import configure_logging

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sidecar",
        description="A streaming reverse proxy that fixes LLM API requests in flight.",
    )
    parser.add_argument("--version", action="version", version=f"sidecar {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the proxy and admin listeners")
    serve.add_argument(
        "--config",
        type=Path,
        default=os.environ.get("SIDECAR_CONFIG") or None,
        help="YAML config file (default: $SIDECAR_CONFIG, else built-in defaults)",
    )

    serve.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default=os.environ.get("SIDECAR_EVENT_LOOP", "asyncio"),
        help="event loop (default asyncio; uvloop must be installed separately and measured no "
        "faster for this proxy, see benchmarks/README.md)",
    )

    serve.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("SIDECAR_WORKERS", "1")),
        help="processes sharing the listeners via SO_REUSEPORT, one event loop each (default 1; "
        "one per core the pod may use)",
    )
    serve.add_argument(
        "--reuse-port",
        action="store_true",
        help="bind with SO_REUSEPORT, so several sidecar processes can share the addresses",
    )
    # Internal: a worker started by `--workers` writes one byte to this fd once it listens.
    serve.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)

    check = sub.add_parser("check", help="validate a config file and print a summary")
    check.add_argument("config", type=Path)

    explain = sub.add_parser(
        "explain", help="show what the sidecar would do to a request body (profile, changes, result)"
    )
    explain.add_argument("--config", type=Path, default=os.environ.get("SIDECAR_CONFIG") or None)
    explain.add_argument("--route", help="route name (default: the route matching --path, else the first)")
    explain.add_argument(
        "--path", help="request path as the app sends it, e.g. /openai/deployments/prod/chat/completions"
    )
    explain.add_argument("--json", action="store_true", help="print the report as JSON")
    explain.add_argument("request", help="JSON request body file, or - for stdin")
    _add_demo_commands(sub)
    return parser


def _add_demo_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser(
        "demo", help="start the strict emulator and a sidecar in front of it, replay legacy requests"
    )
    demo.add_argument("--listen", default="127.0.0.1:8080", help="sidecar proxy HOST:PORT")
    demo.add_argument("--admin-listen", default="127.0.0.1:9090", help="sidecar admin HOST:PORT")
    demo.add_argument("--once", action="store_true", help="exit after the replay instead of staying up")

    emu = sub.add_parser("emulator", help="run the strict upstream emulator on its own")
    emu.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free port)")
    emu.add_argument("--events", type=int, default=8, help="content events per answer")
    emu.add_argument("--delay", type=float, default=0.0, help="seconds between SSE events")
    emu.add_argument("--fast", action="store_true", help="benchmark mode: no validation, no recording")
    emu.add_argument("--no-auth", action="store_true", help="accept requests without credentials")
    emu.add_argument(
        "--deployment",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="an Azure deployment and the model it serves (repeatable; adds to the built-in ones)",
    )


def _run_emulator(args: argparse.Namespace) -> int:
    from sidecar.config import parse_host_port
    from sidecar.emulator import EmulatorConfig
    from sidecar.emulator.app import serve_emulator
    from sidecar.emulator.settings import DEFAULT_DEPLOYMENTS

    deployments = dict(DEFAULT_DEPLOYMENTS)
    for item in args.deployment:
        name, sep, model = item.partition("=")
        if not sep or not name or not model:
            print(f"--deployment expects NAME=MODEL, got {item!r}", file=sys.stderr)
            return 2
        deployments[name] = model
    host, port = parse_host_port(args.listen)
    config = EmulatorConfig(
        host=host,
        port=port,
        event_count=args.events,
        event_delay=args.delay,
        deployments=deployments,
        require_auth=not args.no_auth,
        fast=args.fast,
    )
    return asyncio.run(serve_emulator(config))


def _load(path: Path | None) -> SidecarConfig | None:
    """The validated config, with its rule packs and policies compiled once to check them too."""
    from sidecar.rewrite.pipeline import RequestPipeline

    try:
        config = load_config(path)
        RequestPipeline(config)
        return config
    except ConfigError as exc:
        print("configuration is invalid:", file=sys.stderr)
        for line in exc.errors:
            print(f"  {line}", file=sys.stderr)
        return None


def _summary(config: SidecarConfig, source: str) -> str:
    lines = [
        f"{source}: OK",
        f"  proxy listener: {config.listen.proxy}",
        f"  admin listener: {config.listen.admin}",
        f"  body limit: {config.limits.max_body_bytes} bytes; drain: {config.shutdown.drain_seconds}s",
        f"  routes ({len(config.routes)}):",
    ]
    for r in config.routes:
        flags = [f for f, on in (("strip-prefix", r.strip_prefix), ("dry-run", r.dry_run)) if on]
        extra = f" [{', '.join(flags)}]" if flags else ""
        lines.append(f"    {r.label}: {r.prefix} -> {r.upstream} ({r.dialect.value}){extra}")
    if config.aliases:
        lines.append(f"  aliases: {len(config.aliases)}")
    rules = config.rules
    if rules.packs or rules.disable or rules.policies or rules.dry_run:
        lines.append(
            f"  rules: {len(rules.packs)} operator pack(s), {len(rules.disable)} disabled, "
            f"{len(rules.policies)} polic{'y' if len(rules.policies) == 1 else 'ies'}"
            + (", dry-run everywhere" if rules.dry_run else "")
        )
    return "\n".join(lines)


def _explain(args: argparse.Namespace) -> int:
    from sidecar.explain import ExplainError, explain, render_text
    from sidecar.rewrite.pipeline import RequestPipeline
    from sidecar.routing import Router

    config = _load(args.config)
    if config is None:
        return 2
    try:
        body = sys.stdin.buffer.read() if args.request == "-" else Path(args.request).read_bytes()
    except OSError as exc:
        print(f"cannot read {args.request}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        report = explain(
            RequestPipeline(config), Router(config.routes), body, route=args.route, path=args.path
        )
    except ExplainError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    if args.json:
        import orjson

        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        print(render_text(report))
    return 0


def _ready_notifier(fd: int) -> Callable[[], None]:
    def notify() -> None:
        os.write(fd, b"1")
        os.close(fd)

    return notify


def run_loop(main: Coroutine[Any, Any, int], loop: str = "asyncio") -> int:
    """Run `main` on the chosen event loop (the loop policy is chosen here, never in library code)."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            main.close()
            raise SystemExit("--loop uvloop: uvloop is not installed (pip install uvloop)") from None
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        config = _load(args.config)
        if config is None:
            return 2
        print(_summary(config, str(args.config)))
        return 0
    if args.command == "explain":
        return _explain(args)
    if args.command == "serve":
        config = _load(args.config)
        if config is None:
            return 2
        configure_logging(config.logging.level, config.logging.access_log, loggers=config.logging.loggers)
        if args.workers < 1:
            print("--workers must be at least 1", file=sys.stderr)
            return 2
        if args.workers > 1:
            # The supervisor imports no server code: workers are fresh `sidecar serve` processes.
            from sidecar.workers import Supervisor

            return asyncio.run(Supervisor(config, args.config, args.workers, args.loop).run())
        from sidecar.server import serve

        on_listening = None
        if args.ready_fd is not None:  # a supervised worker
            from sidecar.workers import die_with_supervisor

            die_with_supervisor()
            on_listening = _ready_notifier(args.ready_fd)
        return run_loop(
            serve(config, args.config, reuse_port=args.reuse_port, on_listening=on_listening), args.loop
        )
    if args.command == "demo":
        configure_logging("warning", access_log=False)
        from sidecar.emulator.demo import run_demo

        asyncio.run(run_demo(args.listen, args.admin_listen, once=args.once))
        return 0
    if args.command == "emulator":
        return _run_emulator(args)
    return 2  # pragma: no cover - argparse rejects unknown commands
