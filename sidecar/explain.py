""" "What would the sidecar do to this request?" for `sidecar explain` and `POST /debug/explain`.

Both call `RequestPipeline.decide`, the function the hot path's `prepare` calls, with the route's
own dialect, dry-run flag and policies, so the answer is the one a real request would get.
"""

from __future__ import annotations

from typing import Any

import orjson

from sidecar.config import Dialect
from sidecar.rewrite.pipeline import RequestPipeline
from sidecar.rewrite.thinking import DECISIONS
from sidecar.routing import Route, Router

__all__ = ["ExplainError", "explain", "render_text"]

# The API path a bare body is explained against when no --path is given (appended to the prefix).
_DEFAULT_PATHS = {
    Dialect.OPENAI: "/chat/completions",
    Dialect.OPENAI_COMPATIBLE: "/chat/completions",
    Dialect.AZURE: "/chat/completions",
    Dialect.ANTHROPIC: "/v1/messages",
}


class ExplainError(Exception):
    """The request cannot be explained (no such route, no path for the route, ...)."""


def _pick_route(router: Router, route: str | None, path: str | None) -> Route:
    if route is not None:
        found = router.by_name.get(route)
        if found is None:
            raise ExplainError(f"no route is named {route!r}; routes: {', '.join(sorted(router.by_name))}")
        return found
    if path is not None:
        matched = router.match(path)
        if matched is None:
            raise ExplainError(f"no route matches the path {path!r}")
        return matched
    return next(iter(router.by_name.values()))


def _request_path(route: Route, path: str | None) -> str:
    if path is not None:
        if not route.matches(path):
            raise ExplainError(f"the path {path!r} is not under the route's prefix {route.prefix!r}")
        return path
    suffix = _DEFAULT_PATHS.get(route.dialect)
    if suffix is None:
        raise ExplainError(f"a {route.dialect.value} route needs --path (the model is in the URL)")
    return route.prefix.rstrip("/") + suffix


def explain(
    pipeline: RequestPipeline,
    router: Router,
    body: bytes,
    *,
    route: str | None = None,
    path: str | None = None,
    content_type: str | None = "application/json",
    content_encoding: str | None = None,
) -> dict[str, Any]:
    """The resolved profile, every change with its rule's reason and source, and the result."""
    chosen = _pick_route(router, route, path)
    client_path = _request_path(chosen, path)
    upstream_path = chosen.upstream_path(client_path)
    decision = pipeline.decide(
        chosen.dialect,
        upstream_path,
        content_type,
        content_encoding,
        body,
        chosen.dry_run,
        route=chosen.name,
    )
    profile = decision.profile
    rules = pipeline.knowledge.rules
    changes = []
    for change in decision.changes:
        compiled = rules.get(change.rule)
        thinking = DECISIONS.get(change.rule)  # decisions of the thinking step, not pack rules
        changes.append(
            {
                "rule": change.rule,
                "action": change.action,
                "path": change.path,
                "before": change.before,
                "after": change.after,
                "reason": compiled.rule.reason if compiled else getattr(thinking, "reason", None),
                "source": compiled.rule.source if compiled else getattr(thinking, "source", None),
            }
        )
    if decision.changes and not decision.dry_run:
        forwarded = "rewritten"
    elif decision.changes:
        forwarded = "original (dry-run)"
    else:
        forwarded = "original"
    caps = profile.capabilities
    return {
        "route": chosen.name,
        "dialect": chosen.dialect.value,
        "path": upstream_path,
        "profile": {
            "model": profile.model,
            "canonical": profile.canonical,
            "family": profile.family,
            "source": profile.source,
            "capabilities": caps.model_dump(mode="json", exclude_defaults=True) if caps else {},
        },
        "passthrough": decision.passthrough,
        "dry_run": decision.dry_run,
        "forwarded": forwarded,
        "changes": changes,
        "body": decision.result,
    }


def _value(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 80 else text[:77] + "..."


def render_text(report: dict[str, Any]) -> str:
    """The report for a terminal: profile, one block per change, then the resulting body."""
    profile = report["profile"]
    caps = ", ".join(f"{k}={_value(v)}" for k, v in profile["capabilities"].items()) or "(defaults)"
    lines = [
        f"route:    {report['route']} ({report['dialect']})  path: {report['path']}",
        f"model:    {profile['model']!s} (from {profile['source']}; normalised {profile['canonical']!s})",
        f"family:   {profile['family']}  capabilities: {caps}",
    ]
    if report["passthrough"]:
        lines.append(f"passthrough: {report['passthrough']}")
    lines.append(
        f"changes:  {len(report['changes'])}{'  [dry-run: recorded only]' if report['dry_run'] else ''}"
    )
    for change in report["changes"]:
        before, after = _value(change["before"]), _value(change["after"])
        lines.append(f"  - {change['rule']}: {change['action']} {change['path']}: {before} -> {after}")
        if change["reason"]:
            lines.append(f"      {change['reason']} [{change['source']}]")
    lines.append(f"forwarded: {report['forwarded']}")
    if report["body"] is not None:
        lines.append(orjson.dumps(report["body"], option=orjson.OPT_INDENT_2).decode())
    return "\n".join(lines)
