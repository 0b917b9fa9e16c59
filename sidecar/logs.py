"""JSON-lines logging on stdout: one object per event, encoded with orjson.

Named `logs`, not `logging`, so the stdlib module is never shadowed.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any, TextIO

import orjson

__all__ = [
    "ACCESS",
    "LIFECYCLE",
    "REWRITES",
    "JsonFormatter",
    "configure_logging",
    "event",
    "loggable_value",
    "set_levels",
]

ACCESS = logging.getLogger("sidecar.access")
LIFECYCLE = logging.getLogger("sidecar")
# One debug line per rewrite decision; enable alone with `logging.loggers: {sidecar.rewrite: debug}`.
REWRITES = logging.getLogger("sidecar.rewrite")

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object: time, level, logger, msg, then the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                out[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # Type and message only: a traceback can carry request data into the logs.
            exc = record.exc_info[1]
            out["error"] = f"{type(exc).__name__}: {exc}"
        return orjson.dumps(out, default=str).decode()


def configure_logging(
    level: str = "info",
    access_log: bool = True,
    stream: TextIO | None = None,
    loggers: Mapping[str, str] | None = None,
) -> None:
    """Route every logger (ours, aiohttp's) to one JSON handler on stdout."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_levels(level, access_log, loggers)
    # aiohttp's own access log is replaced by ours (it cannot see routes or rewrites).
    logging.getLogger("aiohttp.access").disabled = True


def set_levels(level: str, access_log: bool, loggers: Mapping[str, str] | None = None) -> None:
    """Apply the config's verbosity; also called on hot reload, so it leaves the handlers alone.

    `level` applies to everything; `loggers` sets single loggers apart (e.g. `sidecar.rewrite` at
    debug while the rest stays at info)."""
    logging.getLogger().setLevel(level.upper())
    for ours in (LIFECYCLE, ACCESS, REWRITES):  # levels from an earlier call do not linger
        ours.setLevel(logging.NOTSET)
    for name, logger_level in (loggers or {}).items():
        logging.getLogger(name).setLevel(logger_level.upper())
    ACCESS.disabled = not access_log


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """A lifecycle event line (`listening`, `draining`, `stopped`, `config_reloaded`, ...)."""
    if LIFECYCLE.isEnabledFor(level):
        LIFECYCLE.log(level, name, extra={"event": name, **fields})


# Values a rewrite touched are logged only when they cannot carry user text or secrets: numbers,
# booleans, null, and short enum-like words ("high", "adaptive", "auto") outside message content.
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,47}")
_SECRET_PREFIXES = ("sk-", "sk_", "key-", "akia", "asia", "bearer")
# A value is content if any field on its path (either side of a move's "a -> b") is one of these.
_CONTENT_FIELDS = re.compile(r"\b(?:messages|system|contents|input|prompt|instructions|tools|content|text)\b")


def loggable_value(path: str, value: Any) -> Any:
    """`value` itself if harmless, else a placeholder naming its type (never its content)."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        if (
            not _CONTENT_FIELDS.search(path)
            and _WORD.fullmatch(value)
            and not value.lower().startswith(_SECRET_PREFIXES)
        ):
            return value
        return f"<str len={len(value)}>"
    if isinstance(value, dict):
        return f"<object keys={len(value)}>"
    if isinstance(value, list | tuple):
        return f"<array len={len(value)}>"
    return f"<{type(value).__name__}>"
