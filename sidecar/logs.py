"""JSON-lines logging on stdout: one object per event, encoded with orjson.

Named `logs`, not `logging`, so the stdlib module is never shadowed.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import orjson

__all__ = ["ACCESS", "LIFECYCLE", "JsonFormatter", "configure_logging", "event", "set_levels"]

ACCESS = logging.getLogger("sidecar.access")
LIFECYCLE = logging.getLogger("sidecar")

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


def configure_logging(level: str = "info", access_log: bool = True, stream: TextIO | None = None) -> None:
    """Route every logger (ours, aiohttp's) to one JSON handler on stdout."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    set_levels(level, access_log)
    # aiohttp's own access log is replaced by ours (it cannot see routes or rewrites).
    logging.getLogger("aiohttp.access").disabled = True


def set_levels(level: str, access_log: bool) -> None:
    """Apply the config's verbosity; also called on hot reload, so it leaves the handlers alone."""
    logging.getLogger().setLevel(level.upper())
    ACCESS.disabled = not access_log


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """A lifecycle event line (`listening`, `draining`, `stopped`, `config_reloaded`, ...)."""
    if LIFECYCLE.isEnabledFor(level):
        LIFECYCLE.log(level, name, extra={"event": name, **fields})
