"""`sidecar serve | check` (and `--version`): the operator's entry points."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path

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

        return asyncio.run(serve(config, args.config))
    return 2  # pragma: no cover - argparse rejects unknown commands
