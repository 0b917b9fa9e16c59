"""Load the rule packs once at startup: the built-in `sidecar/knowledge/*.yaml` plus operator packs.

Every file is validated by pydantic; errors name the file, line, rule (or family) id and field.
Operator packs are layered on top: a family or rule with a built-in id replaces it in place, new
families are tried before the built-in ones (so an operator pattern wins), new rules run after the
built-in ones, and `disable` removes rules by id. The result is compiled: each family carries the
tuple of rules its family and capability conditions select, so the hot path filters nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from sidecar.config import ConfigError
from sidecar.rewrite.profile import FamilyEntry, ModelResolver
from sidecar.rewrite.rules import (
    OPS,
    UNKNOWN_FAMILY,
    CompiledRule,
    Family,
    Fit,
    Pack,
    Rule,
    capabilities_match,
    compile_rule,
)
from sidecar.rewrite.thinking import target_for
from sidecar.yamlsource import SourceError, YamlDocument, format_loc, load_yaml

__all__ = ["BUILTIN_DIR", "Knowledge", "KnowledgeError", "load_knowledge"]

BUILTIN_DIR = Path(__file__).resolve().parent.parent / "knowledge"


class KnowledgeError(ConfigError):
    """A rule pack could not be loaded; every line names its file, line, id and field. A config
    error like any other: `sidecar check`, startup and reload report it the same way."""


@dataclass(frozen=True, slots=True)
class _Loaded:
    source: str
    pack: Pack


def _clean_loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    """Drop pydantic's union-tag segment (`actions.0.rename.to` -> `actions.0.to`), which is not
    a key in the file."""
    return tuple(
        part
        for i, part in enumerate(loc)
        if not (i >= 2 and loc[i - 2] == "actions" and isinstance(loc[i - 1], int) and part in OPS)
        and not (isinstance(part, str) and part.startswith("function-"))
    )


def _labelled(exc: ValidationError, doc: YamlDocument, data: Any) -> list[str]:
    """pydantic errors as `file:line: rules[2] (rule-id).field: message (got ...)` lines."""
    out = []
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]))
        line = doc.line_of(loc)
        where = f"{doc.source}:{line}" if line is not None else doc.source
        field = format_loc(loc)
        if len(loc) >= 2 and loc[0] in ("rules", "families") and isinstance(loc[1], int):
            try:
                ident = data[loc[0]][loc[1]].get("id")
            except (AttributeError, IndexError, KeyError, TypeError):
                ident = None
            if ident:
                marker = f"{loc[0]}[{loc[1]}]"
                field = field.replace(marker, f"{marker} ({ident})", 1)
        got = ""
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            got = f" (got {repr(err['input'])[:80]})"
        out.append(f"{where}: {field}: {err['msg']}{got}")
    return out


def _load_pack(path: Path) -> _Loaded:
    doc = load_yaml(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise KnowledgeError([f"{doc.source}:1: (top level): expected a mapping with families/rules"])
    try:
        pack = Pack.model_validate(data)
    except ValidationError as exc:
        raise KnowledgeError(_labelled(exc, doc, data)) from exc
    return _Loaded(doc.source, pack)


def builtin_pack_paths() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.yaml"))


@cache
def _builtin_packs(paths: tuple[Path, ...]) -> tuple[_Loaded, ...]:
    """The shipped packs are package data that cannot change under a running process, and YAML
    parsing dominates load time, so they are parsed once per process (a reload re-reads only the
    operator's packs). The result is immutable (frozen pydantic models)."""
    return tuple(_load_pack(path) for path in paths)


@dataclass(frozen=True)
class Knowledge:
    """Every family (in match order) with its rules, and every rule by id."""

    families: tuple[FamilyEntry, ...]
    by_id: Mapping[str, FamilyEntry]
    rules: Mapping[str, CompiledRule]
    family_defs: Mapping[str, Family]

    def resolver(self, aliases: Mapping[str, str], unknown_family: str | None = None) -> ModelResolver:
        """A resolver; `unknown_family` makes unmatched models use that family instead of `unknown`."""
        unknown = self.by_id[unknown_family or UNKNOWN_FAMILY]
        return ModelResolver(self.families, aliases, unknown)

    def rule_labels(self) -> list[tuple[str, str, str]]:
        """(family, rule id, action op) for every rule each family can run, in load order."""
        labels: dict[tuple[str, str, str], None] = {}
        for entry in self.by_id.values():
            for compiled in entry.rules:
                for action in compiled.rule.actions:
                    labels[(entry.id, compiled.id, action.op)] = None
        return list(labels)


def _family_rules(family: Family, rules: Sequence[CompiledRule]) -> tuple[CompiledRule, ...]:
    selected = []
    for compiled in rules:
        when = compiled.rule.when
        if when.families is not None:
            if family.id not in when.families:
                continue
        elif family.id == UNKNOWN_FAMILY:
            continue  # unknown models are left alone unless a rule names `unknown` explicitly
        if not capabilities_match(when, family.capabilities):
            continue
        inert = all(isinstance(a, Fit) for a in compiled.rule.actions)
        if inert and family.capabilities.reasoning_efforts is None:
            continue  # `fit` has nothing to fit to: skip the no-op per request (and its labels)
        selected.append(compiled)
    return tuple(selected)


def load_knowledge(
    packs: Sequence[Path] = (), disable: Collection[str] = (), builtin: Sequence[Path] | None = None
) -> Knowledge:
    """Load, validate, layer and compile. Raises KnowledgeError with every problem found."""
    errors: list[str] = []
    families: dict[str, Family] = {}
    rules: dict[str, tuple[Rule, str]] = {}
    for loaded in _builtin_packs(tuple(builtin_pack_paths() if builtin is None else builtin)):
        for fam in loaded.pack.families:
            if fam.id in families or fam.id == UNKNOWN_FAMILY:
                errors.append(f"{loaded.source}: family {fam.id!r} is defined twice")
            families[fam.id] = fam
        for rule in loaded.pack.rules:
            if rule.id in rules:
                errors.append(f"{loaded.source}: rule {rule.id!r} is defined twice ({rules[rule.id][1]})")
            rules[rule.id] = (rule, loaded.source)

    operator_families: dict[str, Family] = {}
    for path in packs:
        try:
            loaded = _load_pack(path)
        except SourceError as exc:
            errors.extend(exc.errors)
            continue
        for fam in loaded.pack.families:
            if fam.id in families:
                families[fam.id] = fam  # override keeps the built-in's place in match order
            else:
                operator_families[fam.id] = fam
        for rule in loaded.pack.rules:
            rules[rule.id] = (rule, loaded.source)  # same id: replaced in place; new: appended

    for rule_id in disable:
        if rule_id not in rules:
            errors.append(f"rules.disable: no rule has the id {rule_id!r}")
    ordered = {**operator_families, **families}
    known = {*ordered, UNKNOWN_FAMILY}
    for rule, source in rules.values():
        for ref in rule.when.families or ():
            if ref not in known:
                errors.append(f"{source}: rule {rule.id!r}: when.families names unknown family {ref!r}")
    if errors:
        raise KnowledgeError(errors)

    compiled = [compile_rule(rule, source) for rule, source in rules.values() if rule.id not in disable]
    entries: list[FamilyEntry] = []
    for fam in [*ordered.values(), Family(id=UNKNOWN_FAMILY, description="no family matched")]:
        patterns = tuple(re.compile(p) for p in fam.match)
        rules_for = _family_rules(fam, compiled)
        entries.append(
            FamilyEntry(fam.id, patterns, fam.capabilities, rules_for, target_for(fam.capabilities))
        )
    by_id = {entry.id: entry for entry in entries}
    return Knowledge(
        families=tuple(e for e in entries if e.id != UNKNOWN_FAMILY),
        by_id=by_id,
        rules={c.id: c for c in compiled},
        family_defs={**ordered, UNKNOWN_FAMILY: Family(id=UNKNOWN_FAMILY)},
    )
