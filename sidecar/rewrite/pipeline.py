"""From raw request bytes to the bytes to forward: decide, then encode only when something changed.

This is the one entry point the HTTP handler calls; it stays free of I/O so `explain`, dry-run and
tests see exactly what the hot path does.

Decisions, in order (each one either continues or forwards the original bytes):
1. Only API bodies are examined: chat completions (openai, azure, openai-compatible), messages
   (anthropic), invoke/converse (bedrock), Gemini generateContent. Other paths are not rewrite
   targets and carry no passthrough reason.
2. A body whose signature covers it (AWS SigV4) is never modified: `signed_body`.
3. Content-Encoding is undone within the body limit. A body that inflates past the limit is a
   likely compression bomb: it is forwarded untouched (`too_large`), never rejected on the
   provider's behalf; an undecodable one likewise (`parse_error`).
4. A JSON content type (`application/json`, `*+json`) is parsed, and so is a body without any
   Content-Type that starts with `{`. Any other declared type is `not_json`: the client said what
   it sent, and the sidecar does not second-guess it.
5. orjson parse; anything but a JSON object: `parse_error`.
6. Model -> profile -> engine. No change: original bytes (even if they were compressed), and
   `unknown_model` when no family matched. Changes in dry-run: original bytes, changes recorded.
   Changes otherwise: the orjson-encoded new body, uncompressed (`decoded=True`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import ValidationError

from sidecar.config import Dialect, SidecarConfig
from sidecar.rewrite.decode import BadEncoding, TooLarge, decode_body
from sidecar.rewrite.engine import Change, Policy, rewrite
from sidecar.rewrite.knowledge import Knowledge, KnowledgeError, load_knowledge
from sidecar.rewrite.profile import ModelProfile, ModelResolver, normalise
from sidecar.rewrite.thinking import DECISIONS, Style, Tables, ThinkingPolicy, default_table_data

__all__ = ["Decision", "Prepared", "RequestPipeline", "in_scope", "is_signed"]

_OPENAI_LIKE = frozenset({Dialect.OPENAI, Dialect.AZURE, Dialect.OPENAI_COMPATIBLE})
_BEDROCK_OP = re.compile(r"/model/[^/]+/(?:invoke|invoke-with-response-stream|converse|converse-stream)$")
_GEMINI_OP = re.compile(r"/models/[^/:]+:(?:generateContent|streamGenerateContent)$")
_NONE = ModelProfile(family="none")
_ANTHROPIC_SHAPED = frozenset({Dialect.ANTHROPIC, Dialect.BEDROCK})


def _model_matches(selector: str, profile: ModelProfile | None) -> bool:
    """A policy's `model` names the request's model as sent, or any spelling that normalises alike."""
    if profile is None or profile.model is None:
        return False
    return selector.lower() == profile.model.lower() or normalise(selector) == profile.canonical


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, Mapping) and isinstance(out.get(key), dict)
            else value
        )
    return out


def _tables(overrides: Mapping[str, Any]) -> Tables:
    """The shipped reasoning tables with the operator's overrides merged in, validated."""
    try:
        return Tables.model_validate(_merge(default_table_data(), overrides))
    except ValidationError as exc:
        raise KnowledgeError(
            [f"rules.thinking_tables.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        ) from exc


def in_scope(dialect: Dialect, path: str) -> bool:
    """Whether `path` carries a model-bearing JSON API body the engine knows how to read."""
    path = path.rstrip("/")
    if dialect in _OPENAI_LIKE and path.endswith("/chat/completions"):
        return True
    if dialect is Dialect.ANTHROPIC and path.endswith("/messages"):
        return True
    if dialect is Dialect.BEDROCK and _BEDROCK_OP.search(path):
        return True
    return _GEMINI_OP.search(path) is not None


def is_signed(headers: Mapping[str, str], query: str = "") -> bool:
    """An AWS SigV4 signature covers the payload hash: changing one byte breaks the request."""
    auth = headers.get("Authorization") or headers.get("authorization") or ""
    return auth.startswith("AWS4-HMAC-SHA256") or "X-Amz-Signature=" in query


def _maybe_json(content_type: str | None, body: bytes) -> bool:
    """A JSON content type, or none at all on a body that starts like a JSON object."""
    if content_type is None:
        return body.lstrip()[:1] == b"{"
    mime = content_type.split(";", 1)[0].strip().lower()
    return mime in ("application/json", "text/json") or mime.endswith("+json")


@dataclass(frozen=True, slots=True)
class Prepared:
    """What to forward, and why."""

    body: bytes
    changes: tuple[Change, ...] = ()
    family: str = "unknown"
    # The target model as the request named it (metrics label it only if allowlisted).
    model: str | None = None
    # Why the body was forwarded without being examined (not_json, parse_error, ...), if it was.
    passthrough: str | None = None
    # True when `body` is a decoded form of a Content-Encoded original: drop Content-Encoding.
    decoded: bool = False
    # The changes were only recorded: `body` is the original.
    dry_run: bool = False
    # The sidecar turned on thinking the client never asked for, on an Anthropic-shaped API: the
    # response must lose those thinking blocks before the client sees it (rewrite/injected.py).
    strip_injected_thinking: bool = False

    @property
    def modified(self) -> bool:
        return (bool(self.changes) and not self.dry_run) or self.decoded


@dataclass(frozen=True, slots=True)
class Decision:
    """Everything the pipeline decided about one body; `explain` shows it, `prepare` forwards it."""

    profile: ModelProfile
    changes: tuple[Change, ...] = ()
    passthrough: str | None = None
    dry_run: bool = False
    # The rewritten body (None when nothing was parsed); equal to the parsed body when unchanged.
    result: dict[str, Any] | None = None


class RequestPipeline:
    """Compiled once per config (and per reload); shared by every request."""

    def __init__(self, config: SidecarConfig, knowledge: Knowledge | None = None) -> None:
        self.config = config
        rules = config.rules
        self.knowledge = knowledge or load_knowledge(rules.packs, rules.disable)
        self._check_policies()
        self._resolver = self.knowledge.resolver(config.aliases)
        self._route_resolvers: dict[str, ModelResolver] = {
            p.route: self.knowledge.resolver(config.aliases, p.unknown_family)
            for p in rules.policies
            if p.unknown_family is not None and p.route is not None
        }
        self._policies: dict[tuple[str | None, str, str | None], tuple[Policy, bool]] = {}
        self._disabled = frozenset(rules.disable)
        self.tables = _tables(rules.thinking_tables)
        self._by_model = any(p.model is not None for p in rules.policies)

    def _check_policies(self) -> None:
        errors = []
        for i, policy in enumerate(self.config.rules.policies):
            for ref in (policy.family, policy.unknown_family):
                if ref is not None and ref not in self.knowledge.by_id:
                    errors.append(f"rules.policies[{i}]: no family has the id {ref!r}")
            for rule_id in policy.disable:
                if rule_id not in self.knowledge.rules:
                    errors.append(f"rules.policies[{i}].disable: no rule has the id {rule_id!r}")
        if errors:
            raise KnowledgeError(errors)

    def policy(
        self, route: str | None, family: str, model: ModelProfile | None = None
    ) -> tuple[Policy, bool]:
        """(engine policy, dry-run) for a route, family and model: every matching policy applies,
        later ones overriding earlier ones for reasoning settings."""
        model_key = model.canonical if self._by_model and model is not None else None
        key = (route, family, model_key)
        cached = self._policies.get(key)
        if cached is not None:
            return cached
        disabled: set[str] = set()
        dry_run = self.config.rules.dry_run
        thinking: dict[str, Any] = {}
        for entry in self.config.rules.policies:
            if entry.route not in (None, route) or entry.family not in (None, family):
                continue
            if entry.model is not None and not _model_matches(entry.model, model):
                continue
            disabled.update(entry.disable)
            dry_run = dry_run or entry.dry_run
            if entry.thinking is not None:
                thinking.update(entry.thinking.model_dump(exclude_unset=True))
        style = thinking.pop("style", None)
        thinking_policy = ThinkingPolicy(**thinking, style=Style(style) if style else None)
        result = (Policy(disabled=frozenset(disabled), thinking=thinking_policy, tables=self.tables), dry_run)
        if len(self._policies) < 4096:  # bounded: routes x families (x models named in policies)
            self._policies[key] = result
        return result

    def resolver(self, route: str | None) -> ModelResolver:
        if route is None:
            return self._resolver
        return self._route_resolvers.get(route, self._resolver)

    def decide(
        self,
        dialect: Dialect,
        path: str,
        content_type: str | None,
        content_encoding: str | None,
        body: bytes,
        dry_run: bool = False,
        *,
        route: str | None = None,
        signed: bool = False,
    ) -> Decision:
        """Examine one request body; pure apart from the memo caches."""
        if not body or not in_scope(dialect, path):
            return Decision(profile=_NONE)
        resolver = self.resolver(route)
        if signed:
            return Decision(profile=resolver.resolve(path, None), passthrough="signed_body")
        plain = body
        if content_encoding:
            try:
                plain = decode_body(body, content_encoding, self.config.limits.max_body_bytes)
            except TooLarge:
                return Decision(profile=_NONE, passthrough="too_large")
            except BadEncoding:
                return Decision(profile=_NONE, passthrough="parse_error")
        if not _maybe_json(content_type, plain):
            return Decision(profile=_NONE, passthrough="not_json")
        try:
            parsed = orjson.loads(plain)
        except orjson.JSONDecodeError:
            return Decision(profile=_NONE, passthrough="parse_error")
        if not isinstance(parsed, dict):
            return Decision(profile=_NONE, passthrough="parse_error")
        profile = resolver.resolve(path, parsed.get("model"))
        policy, policy_dry_run = self.policy(route, profile.family, profile)
        result = rewrite(dialect, profile, parsed, policy)
        passthrough = None if profile.known or result.changes else "unknown_model"
        return Decision(
            profile=profile,
            changes=result.changes,
            passthrough=passthrough,
            dry_run=dry_run or policy_dry_run,
            result=result.body,
        )

    def prepare(
        self,
        dialect: Dialect,
        path: str,
        content_type: str | None,
        content_encoding: str | None,
        body: bytes,
        dry_run: bool = False,
        *,
        route: str | None = None,
        signed: bool = False,
    ) -> Prepared:
        """The bytes to forward: the original unless a rule changed something (and not dry-run)."""
        decision = self.decide(
            dialect, path, content_type, content_encoding, body, dry_run, route=route, signed=signed
        )
        family, model = decision.profile.family, decision.profile.model
        if not decision.changes or decision.dry_run or decision.result is None:
            return Prepared(
                body=body,
                changes=decision.changes,
                family=family,
                model=model,
                passthrough=decision.passthrough,
                dry_run=decision.dry_run and bool(decision.changes),
            )
        return Prepared(
            body=orjson.dumps(decision.result),
            changes=decision.changes,
            family=family,
            model=model,
            passthrough=decision.passthrough,
            decoded=bool(content_encoding),
            strip_injected_thinking=dialect in _ANTHROPIC_SHAPED
            and any(c.rule == "thinking.inject" and c.path == "thinking" for c in decision.changes),
        )

    def rule_labels(self) -> list[tuple[str, str, str]]:
        """(family, rule id, action) for every rule a family can run: the metric label sets."""
        labels = self.knowledge.rule_labels()
        for entry in self.knowledge.by_id.values():
            if entry.capabilities.reasoning_style is not None:
                labels += [
                    (entry.id, rule, action)
                    for rule, (_, _, actions) in DECISIONS.items()
                    for action in actions
                ]
        return labels
