"""`rewrite(dialect, profile, body, policy) -> Result(body, changes)`: pure and deterministic."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sidecar.config import Dialect

__all__ = ["Change", "Policy", "Profile", "Result", "rewrite"]


@dataclass(frozen=True, slots=True)
class Change:
    """One decision of the engine. Logs, metrics, headers and `explain` all read these."""

    rule: str
    action: str
    path: str
    before: Any = None
    after: Any = None


@dataclass(frozen=True, slots=True)
class Profile:
    """What the engine knows about the target model. Filled in by the knowledge base."""

    family: str = "unknown"
    model: str | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    """Operator choices that shape a rewrite (filled in by the rule-pack work)."""

    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Result:
    body: dict[str, Any]
    changes: tuple[Change, ...] = ()


def rewrite(dialect: Dialect, profile: Profile, body: dict[str, Any], policy: Policy) -> Result:
    """Return the body the target accepts and the list of changes made to get there.

    No rules are loaded yet, so every body comes back unchanged.
    """
    return Result(body=body)
