"""`sidecar serve | check` (and `--version`): the operator's entry points."""

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
        choices=("auto", "uvloop", "asyncio"),
        default=os.environ.get("SIDECAR_EVENT_LOOP", "auto"),
        help="event loop: uvloop when installed (auto, the default; ~2x less CPU per request) or asyncio",
    )

    check = sub.add_parser("check", help="validate a config file and print a summary")
    check.add_argument("config", type=Path)
    return parser


def _load(path: Path | None) -> SidecarConfig | None:
    try:
        return load_config(path)
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
    return "\n".join(lines)


def run_loop(main: Coroutine[Any, Any, int], loop: str = "auto") -> int:
    """Run `main` on uvloop when asked for or available (the loop policy is chosen here, never in
    library code), else on the standard asyncio loop."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if loop != "asyncio":
        try:
            import uvloop
        except ImportError:
            if loop == "uvloop":
                main.close()
                raise SystemExit("--loop uvloop: uvloop is not installed") from None
        else:
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
    if args.command == "serve":
        config = _load(args.config)
        if config is None:
            return 2
        configure_logging(config.logging.level, config.logging.access_log, loggers=config.logging.loggers)
        from sidecar.server import serve

        return run_loop(serve(config, args.config), args.loop)
    return 2  # pragma: no cover - argparse rejects unknown commands
