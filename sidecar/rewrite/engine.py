"""`rewrite(dialect, profile, body, policy) -> Result(body, changes)`: pure and deterministic.

The profile carries the rules that can apply to its family (selected once at load by family and
capability conditions); the engine runs them in order, each against the body as the previous rules
left it. The caller's body is never mutated: containers are copied only along changed paths, so
key order and every field no rule names survive unchanged.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from sidecar.config import Dialect
from sidecar.rewrite.profile import ModelProfile
from sidecar.rewrite.rules import Change, RewriteContext
from sidecar.rewrite.thinking import (
    Tables,
    ThinkingPolicy,
    apply_thinking,
    default_tables,
    needs_thinking,
)

__all__ = ["Change", "ModelProfile", "Policy", "Result", "rewrite"]


@dataclass(frozen=True, slots=True)
class Policy:
    """Operator choices that shape a rewrite: rules switched off (by id) for this route/family,
    plus free-form options later rule kinds may read."""

    disabled: frozenset[str] = frozenset()
    options: Mapping[str, Any] = field(default_factory=dict)
    thinking: ThinkingPolicy = field(default_factory=ThinkingPolicy)
    tables: Tables = field(default_factory=default_tables)


@dataclass(frozen=True, slots=True)
class Result:
    body: dict[str, Any]
    changes: tuple[Change, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def rewrite(dialect: Dialect, profile: ModelProfile, body: dict[str, Any], policy: Policy) -> Result:
    """Return the body the target accepts and the list of changes made to get there.

    Reasoning translation runs first (it may set `max_tokens` or drop sampling fields that thinking
    forbids), then the family's rules, each against the body as the previous step left it.
    """
    current, changes = _thinking(profile, body, policy)
    ctx: RewriteContext | None = None
    for rule in profile.rules:
        if rule.id in policy.disabled or (rule.dialects is not None and dialect not in rule.dialects):
            continue
        if not rule.applies(current):
            continue
        if ctx is None:
            ctx = RewriteContext(current, profile.capabilities)
        rule.apply(ctx)
        current = ctx.root
    if ctx is not None:
        changes.extend(ctx.changes)
    if not changes:
        return Result(body=body)
    return Result(body=current, changes=tuple(changes))


def _thinking(
    profile: ModelProfile, body: dict[str, Any], policy: Policy
) -> tuple[dict[str, Any], list[Change]]:
    """The reasoning step (sidecar/rewrite/thinking.py) on a private copy, only when it can matter."""
    target = profile.thinking
    if target is None or not needs_thinking(body, target, policy.thinking):
        return body, []
    working = _private_copy(body)  # the caller's body is never mutated
    working, changes = apply_thinking(working, target, policy.thinking, policy.tables)
    return (working, changes) if changes else (body, [])


def _private_copy(body: dict[str, Any]) -> dict[str, Any]:
    """A deep copy: orjson's round trip is the fastest; deepcopy for what JSON cannot hold (an
    integer past 64 bits from a caller other than the wire parser)."""
    try:
        copied: dict[str, Any] = orjson.loads(orjson.dumps(body))
    except TypeError:
        copied = copy.deepcopy(body)
    return copied
