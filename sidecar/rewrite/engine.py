"""`rewrite(dialect, profile, body, policy) -> Result(body, changes)`: pure and deterministic.

The profile carries the rules that can apply to its family (selected once at load by family and
capability conditions); the engine runs them in order, each against the body as the previous rules
left it. The caller's body is never mutated: containers are copied only along changed paths, so
key order and every field no rule names survive unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.config import Dialect
from sidecar.rewrite.profile import ModelProfile
from sidecar.rewrite.rules import Change, RewriteContext

__all__ = ["Change", "ModelProfile", "Policy", "Result", "rewrite"]


@dataclass(frozen=True, slots=True)
class Policy:
    """Operator choices that shape a rewrite: rules switched off (by id) for this route/family,
    plus free-form options later rule kinds may read."""

    disabled: frozenset[str] = frozenset()
    options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Result:
    body: dict[str, Any]
    changes: tuple[Change, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def rewrite(dialect: Dialect, profile: ModelProfile, body: dict[str, Any], policy: Policy) -> Result:
    """Return the body the target accepts and the list of changes made to get there."""
    ctx: RewriteContext | None = None
    current = body
    for rule in profile.rules:
        if rule.id in policy.disabled or (rule.dialects is not None and dialect not in rule.dialects):
            continue
        if not rule.applies(current):
            continue
        if ctx is None:
            ctx = RewriteContext(body, profile.capabilities)
        rule.apply(ctx)
        current = ctx.root
    if ctx is None or not ctx.changes:
        return Result(body=body)
    return Result(body=ctx.root, changes=tuple(ctx.changes))
