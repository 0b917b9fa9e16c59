"""The rule-pack schema (pydantic) and the action implementations, compiled once into small steps.

A pack is data: families (anchored name patterns + capabilities) and rules (conditions + actions).
`compile_rule` turns a validated `Rule` into a `CompiledRule` whose `applies` and `apply` are plain
closures over precomputed paths, so nothing is parsed or compiled per request. Every action records
what it did as `Change` records; nothing here performs I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from sidecar.config import Dialect, ReasoningStyle

__all__ = [
    "OPS",
    "UNKNOWN_FAMILY",
    "Action",
    "Capabilities",
    "Change",
    "CompiledRule",
    "Family",
    "Fit",
    "Pack",
    "RewriteContext",
    "Rule",
    "compile_rule",
    "format_path",
    "parse_path",
]

UNKNOWN_FAMILY = "unknown"
ANY = "*"  # a path segment that stands for every item of a list

Segment = str | int
Path = tuple[str, ...]
JSONScalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Change:
    """One decision of the engine. Logs, metrics, headers and `explain` all read these."""

    rule: str
    action: str
    path: str
    before: Any = None
    after: Any = None


# --- paths ---------------------------------------------------------------------------------------

_SEGMENT = re.compile(r"^(?:[A-Za-z0-9_$-]+|\*)$")


def parse_path(text: str) -> Path:
    """`"messages.*.role"` -> `("messages", "*", "role")`. Dots separate; `*` is every list item."""
    parts = tuple(text.split("."))
    for part in parts:
        if not _SEGMENT.match(part):
            raise ValueError(f"invalid path {text!r}: segment {part!r} (use name.name or name.*.name)")
    return parts


def format_path(concrete: tuple[Segment, ...]) -> str:
    """`("messages", 0, "role")` -> `messages[0].role` (what a Change record shows)."""
    out = ""
    for part in concrete:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _check_path(text: str) -> str:
    parse_path(text)
    return text


PathText = Annotated[str, AfterValidator(_check_path)]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]


def _check_regex(text: str) -> str:
    try:
        re.compile(text)
    except re.error as exc:
        raise ValueError(f"invalid regular expression: {exc}") from exc
    return text


Pattern = Annotated[str, AfterValidator(_check_regex)]


# --- schema --------------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Capabilities(_Strict):
    """What a model family accepts. Rules consult these, so adding a model is adding data."""

    # Which output-limit field the model wants; None = either is fine, do not touch.
    output_limit_field: Literal["max_tokens", "max_completion_tokens"] | None = None
    # any: every value; default_only: only the default (1); none: the key itself is rejected.
    temperature: Literal["any", "default_only", "none"] = "any"
    # top_p, logprobs, top_logprobs.
    sampling_params: bool = True
    # presence_penalty, frequency_penalty, logit_bias.
    penalties: bool = True
    # False: temperature and top_p must not be sent together.
    temperature_with_top_p: bool = True
    stop: bool = True
    parallel_tool_calls: bool = True
    # Accepted `reasoning_effort` values; [] = the field is rejected; None = no opinion.
    reasoning_efforts: tuple[str, ...] | None = None
    # Whether `system` / `developer` message roles are accepted.
    system_role: bool = True
    developer_role: bool = True
    # How the model takes thinking: none, budget (enabled + budget_tokens), adaptive (adaptive
    # preferred, budget deprecated), adaptive_only, level (Gemini 3 thinkingLevel).
    thinking: Literal["none", "budget", "adaptive", "adaptive_only", "level"] = "none"
    reasoning: bool = False
    # How reasoning intent is written for this model (sidecar/rewrite/thinking.py `Style`); None:
    # no opinion, reasoning fields are left alone. `none`: the model cannot think, fields removed.
    reasoning_style: ReasoningStyle | None = None
    # Inclusive thinking-budget range (Gemini 2.5: 0-24576, 2.5 Pro 128-32768; Anthropic floor).
    thinking_budget_range: tuple[int, int] | None = None
    # False: thinking cannot be turned off (Gemini 2.5 Pro; Anthropic Mythos/Fable).
    thinking_can_disable: bool = True
    # Assistant `reasoning_content` / `reasoning` in the history: `strip` it (legacy
    # deepseek-reasoner rejects it, vLLM ignores it), `keep` it (DeepSeek thinking mode needs it
    # echoed on tool turns), or None: no opinion, the history is not even looked at.
    reasoning_history: Literal["strip", "keep"] | None = None


CAPABILITY_NAMES = frozenset(Capabilities.model_fields)


class Family(_Strict):
    """A model family: first family (in load order) whose pattern fully matches the name wins."""

    id: Identifier
    description: str = ""
    # Regular expressions matched with fullmatch against the normalised model name, so `o\d+` can
    # never match inside `demo1` or `foo-o1-bar`. Empty: reachable only through a policy.
    match: list[Pattern] = Field(default_factory=list)
    capabilities: Capabilities = Capabilities()
    source: str | None = None


def _check_capabilities(value: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(value) - CAPABILITY_NAMES)
    if unknown:
        raise ValueError(f"unknown capabilities {unknown}; known: {sorted(CAPABILITY_NAMES)}")
    return value


class When(_Strict):
    """Conditions, all of which must hold. Family and capability conditions are resolved once per
    family at load; field conditions are evaluated per request against the body as it stands."""

    dialects: list[Dialect] | None = None
    families: list[Identifier] | None = None
    # capability -> required value (or a list of accepted values).
    capabilities: Annotated[dict[str, Any], AfterValidator(_check_capabilities)] = Field(default_factory=dict)
    present: list[PathText] = Field(default_factory=list)
    absent: list[PathText] = Field(default_factory=list)
    # path -> values: the field exists and its value is (not) one of them.
    value_in: dict[PathText, list[Any]] = Field(default_factory=dict)
    value_not_in: dict[PathText, list[Any]] = Field(default_factory=dict)


Conflict = Literal["keep_target", "overwrite", "skip"]


class Rename(_Strict):
    """Move a value to a new key in the same place in key order. If the target already exists:
    keep_target (default) drops the source, overwrite replaces the target, skip does nothing."""

    op: Literal["rename"]
    from_: PathText = Field(alias="from")
    to: Annotated[str, Field(pattern=r"^[A-Za-z0-9_$-]+$")]
    on_conflict: Conflict = "keep_target"

    @model_validator(mode="after")
    def _no_wildcard_source(self) -> Rename:
        if ANY in parse_path(self.from_)[-1:]:
            raise ValueError("rename needs a key, not '*', as the last segment of 'from'")
        return self


class Move(_Strict):
    """Move a value into another (possibly nested, created on demand) path, e.g. `extra_body.x`."""

    op: Literal["move"]
    from_: PathText = Field(alias="from")
    to: PathText
    on_conflict: Conflict = "keep_target"

    @model_validator(mode="after")
    def _single_fields(self) -> Move:
        if ANY in parse_path(self.from_) or ANY in parse_path(self.to):
            raise ValueError("move works on single fields; '*' is not allowed in 'from' or 'to'")
        return self


class Drop(_Strict):
    """Remove a field; with `unless_in`, only when its value is not one of those."""

    op: Literal["drop"]
    path: PathText
    unless_in: list[Any] | None = None


class Set(_Strict):
    op: Literal["set"]
    path: PathText
    value: Any


class SetDefault(_Strict):
    """Set a field only when it is absent."""

    op: Literal["set_default"]
    path: PathText
    value: Any


class Clamp(_Strict):
    """Bring a number into [min, max]; non-numbers are left alone."""

    op: Literal["clamp"]
    path: PathText
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bounds(self) -> Clamp:
        if self.min is None and self.max is None:
            raise ValueError("clamp needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("clamp min is greater than max")
        return self


class MapValues(_Strict):
    """Replace string values found in `values` (e.g. `minimal: low`); others are left alone."""

    op: Literal["map"]
    path: PathText
    values: dict[str, Any]


class Fit(_Strict):
    """Replace a value the model does not accept by the nearest accepted one on `order` (ties go
    up); drop the field when the model accepts none. Values outside `order` are left alone."""

    op: Literal["fit"]
    path: PathText
    capability: Literal["reasoning_efforts"]
    order: list[str] = Field(min_length=2)


class Role(_Strict):
    """Rewrite message roles, e.g. `{system: developer}` or `{system: user}`."""

    op: Literal["role"]
    values: dict[str, str]
    messages: PathText = "messages"


Action = Annotated[
    Rename | Move | Drop | Set | SetDefault | Clamp | MapValues | Fit | Role, Field(discriminator="op")
]


# The `op` names, i.e. the tags of the Action union.
OPS = frozenset({"rename", "move", "drop", "set", "set_default", "clamp", "map", "fit", "role"})


class Rule(_Strict):
    id: Identifier
    reason: Annotated[str, Field(min_length=1, pattern=r"^[^\n]+$")]
    # Where the fact comes from, e.g. "provider-rules.md §1.1".
    source: Annotated[str, Field(min_length=1)]
    when: When = When()
    actions: list[Action] = Field(min_length=1)


class Pack(_Strict):
    """One YAML file: families and rules."""

    families: list[Family] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)


# --- the per-request context ---------------------------------------------------------------------

_MISSING: Any = object()


class RewriteContext:
    """The body being rewritten, copied on write: containers are cloned only along the paths that
    change, so the caller's body is never mutated and untouched subtrees are shared."""

    __slots__ = ("_owned", "capabilities", "changes", "root", "rule")

    def __init__(self, body: dict[str, Any], capabilities: Capabilities | None) -> None:
        self.root = body
        self.capabilities = capabilities
        self.changes: list[Change] = []
        self.rule = ""
        self._owned: set[int] = set()

    def record(self, action: str, path: tuple[Segment, ...] | str, before: Any, after: Any) -> None:
        where = path if isinstance(path, str) else format_path(path)
        self.changes.append(Change(self.rule, action, where, before, after))

    def adopt(self, container: Any) -> Any:
        """Mark a container this rewrite created as its own (safe to modify in place)."""
        self._owned.add(id(container))
        return container

    def writable(self, parent: tuple[Segment, ...]) -> Any:
        """The container at `parent`, cloned (with its ancestors) if not already ours."""
        if id(self.root) not in self._owned:
            self.root = dict(self.root)
            self._owned.add(id(self.root))
        node: Any = self.root
        for key in parent:
            child = node[key]
            if id(child) not in self._owned:
                child = dict(child) if isinstance(child, dict) else list(child)
                node[key] = child
                self._owned.add(id(child))
            node = child
        return node


def _find(root: Any, path: Path) -> list[tuple[tuple[Segment, ...], Any]]:
    """Every (concrete path, value) that `path` names and that exists, in document order."""
    if ANY not in path:  # the common case: one concrete field
        value = _get(root, path)
        return [] if value is _MISSING else [(path, value)]
    star = path.index(ANY)
    if ANY not in path[star + 1 :]:  # one wildcard (`messages.*.role`): a flat loop, no recursion
        items = _get(root, path[:star])
        if not isinstance(items, list):
            return []
        head, tail = path[:star], path[star + 1 :]
        if len(tail) == 1:
            key = tail[0]
            return [
                ((*head, index, key), item[key])
                for index, item in enumerate(items)
                if isinstance(item, dict) and key in item
            ]
        pairs = ((index, _get(item, tail)) for index, item in enumerate(items))
        return [((*head, index, *tail), value) for index, value in pairs if value is not _MISSING]
    found: list[tuple[tuple[Segment, ...], Any]] = []
    _walk(root, path, 0, (), found)
    return found


def _walk(
    node: Any, path: Path, i: int, at: tuple[Segment, ...], out: list[tuple[tuple[Segment, ...], Any]]
) -> None:
    if i == len(path):
        out.append((at, node))
        return
    key = path[i]
    if key == ANY:
        if isinstance(node, list):
            for index, item in enumerate(node):
                _walk(item, path, i + 1, (*at, index), out)
    elif isinstance(node, dict):
        child = node.get(key, _MISSING)
        if child is not _MISSING:
            _walk(child, path, i + 1, (*at, key), out)


def _get(root: Any, path: Path) -> Any:
    """The value at a wildcard-free path, or _MISSING."""
    node = root
    for key in path:
        if not isinstance(node, dict):
            return _MISSING
        node = node.get(key, _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


def _parents(root: Any, path: Path) -> list[tuple[Segment, ...]]:
    """Concrete paths of the existing containers that would hold `path`'s last key."""
    if ANY not in path[:-1]:
        return [tuple(path[:-1])]
    return [at for at, value in _find(root, path[:-1]) if isinstance(value, dict)]


def _same(a: Any, b: Any) -> bool:
    """JSON equality: `1 == True` must not hold, and 1 == 1.0 should."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return bool(a == b)


def _member(value: Any, allowed: list[Any] | tuple[Any, ...]) -> bool:
    return any(_same(value, candidate) for candidate in allowed)


# --- actions -------------------------------------------------------------------------------------

Step = Callable[[RewriteContext], None]
Test = Callable[[dict[str, Any]], bool]


def _renamed(container: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A copy of `container` with key `old` renamed to `new` in the same position."""
    return {(new if key == old else key): value for key, value in container.items()}


def _step_rename(action: Rename) -> Step:
    source = parse_path(action.from_)
    key, target = source[-1], action.to

    def step(ctx: RewriteContext) -> None:
        for at, value in _find(ctx.root, source):
            parent_at = at[:-1]
            parent = ctx.writable(parent_at)
            if target in parent:
                if action.on_conflict == "skip":
                    continue
                if action.on_conflict == "keep_target":
                    del parent[key]
                    ctx.record("drop", at, value, None)
                    continue
                del parent[target]
            renamed = _renamed(parent, key, target)
            parent.clear()
            parent.update(renamed)
            ctx.record("rename", f"{format_path(at)} -> {format_path((*parent_at, target))}", value, value)

    return step


def _set_at(ctx: RewriteContext, path: Path, value: Any) -> tuple[Segment, ...]:
    """Set a wildcard-free path, creating missing intermediate objects. Returns the concrete path."""
    node: Any = ctx.writable(())
    at: tuple[Segment, ...] = ()
    for key in path[:-1]:
        child = node.get(key, _MISSING) if isinstance(node, dict) else _MISSING
        if not isinstance(child, dict):
            child = node[key] = ctx.adopt({})
        elif id(child) not in ctx._owned:
            child = node[key] = ctx.adopt(dict(child))
        at = (*at, key)
        node = child
    node[path[-1]] = value
    return (*at, path[-1])


def _step_move(action: Move) -> Step:
    source, target = parse_path(action.from_), parse_path(action.to)

    def step(ctx: RewriteContext) -> None:
        value = _get(ctx.root, source)
        if value is _MISSING:
            return
        existing = _get(ctx.root, target)
        if existing is not _MISSING:
            if action.on_conflict == "skip":
                return
            if action.on_conflict == "keep_target":
                del ctx.writable(source[:-1])[source[-1]]
                ctx.record("drop", source, value, None)
                return
        del ctx.writable(source[:-1])[source[-1]]
        _set_at(ctx, target, value)
        ctx.record("move", f"{format_path(source)} -> {format_path(target)}", value, value)

    return step


def _step_drop(action: Drop) -> Step:
    path = parse_path(action.path)
    keep = action.unless_in

    def step(ctx: RewriteContext) -> None:
        for at, value in reversed(_find(ctx.root, path)):
            if keep is not None and _member(value, keep):
                continue
            container = ctx.writable(at[:-1])
            del container[at[-1]]
            ctx.record("drop", at, value, None)

    return step


def _step_set(action: Set | SetDefault) -> Step:
    path = parse_path(action.path)
    only_if_absent = isinstance(action, SetDefault)
    name = "set_default" if only_if_absent else "set"
    value = action.value

    def step(ctx: RewriteContext) -> None:
        if ANY not in path:
            before = _get(ctx.root, path)
            if (only_if_absent and before is not _MISSING) or (before is not _MISSING and before == value):
                return
            at = _set_at(ctx, path, value)
            ctx.record(name, at, None if before is _MISSING else before, value)
            return
        for parent_at in _parents(ctx.root, path):
            parent = ctx.writable(parent_at)
            before = parent.get(path[-1], _MISSING)
            if (only_if_absent and before is not _MISSING) or (before is not _MISSING and before == value):
                continue
            parent[path[-1]] = value
            ctx.record(name, (*parent_at, path[-1]), None if before is _MISSING else before, value)

    return step


def _replace_each(path: Path, name: str, compute: Callable[[RewriteContext, Any], Any]) -> Step:
    """A step that replaces each value at `path` by `compute(value)` (_MISSING: leave it)."""

    def step(ctx: RewriteContext) -> None:
        for at, value in _find(ctx.root, path):
            new = compute(ctx, value)
            if new is _MISSING or (type(new) is type(value) and new == value):
                continue
            ctx.writable(at[:-1])[at[-1]] = new
            ctx.record(name, at, value, new)

    return step


def _step_clamp(action: Clamp) -> Step:
    low, high = action.min, action.max

    def compute(ctx: RewriteContext, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return _MISSING
        new = value
        if low is not None and new < low:
            new = low
        if high is not None and new > high:
            new = high
        if new == value:
            return _MISSING
        return int(new) if isinstance(value, int) and float(new).is_integer() else new

    return _replace_each(parse_path(action.path), "clamp", compute)


def _step_map(path: Path, values: Mapping[str, Any], name: str) -> Step:
    def compute(ctx: RewriteContext, value: Any) -> Any:
        if isinstance(value, str) and value in values:
            return values[value]
        return _MISSING

    return _replace_each(path, name, compute)


def _step_fit(action: Fit) -> Step:
    path = parse_path(action.path)
    rank = {value: index for index, value in enumerate(action.order)}

    def step(ctx: RewriteContext) -> None:
        accepted = ctx.capabilities.reasoning_efforts if ctx.capabilities is not None else None
        if accepted is None:
            return
        for at, value in reversed(_find(ctx.root, path)):
            if not isinstance(value, str) or value in accepted or value not in rank:
                continue
            if not accepted:
                del ctx.writable(at[:-1])[at[-1]]
                ctx.record("drop", at, value, None)
                continue
            candidates = [a for a in accepted if a in rank]
            if not candidates:
                continue
            want = rank[value]
            # Nearest on the ladder; on a tie the higher effort wins (never silently think less).
            best = min(candidates, key=lambda a: (abs(rank[a] - want), -rank[a]))
            ctx.writable(at[:-1])[at[-1]] = best
            ctx.record("fit", at, value, best)

    return step


def _compile_action(action: Action) -> Step:
    if isinstance(action, Rename):
        return _step_rename(action)
    if isinstance(action, Move):
        return _step_move(action)
    if isinstance(action, Drop):
        return _step_drop(action)
    if isinstance(action, Set | SetDefault):
        return _step_set(action)
    if isinstance(action, Clamp):
        return _step_clamp(action)
    if isinstance(action, MapValues):
        return _step_map(parse_path(action.path), action.values, "map")
    if isinstance(action, Fit):
        return _step_fit(action)
    return _step_map((*parse_path(action.messages), ANY, "role"), action.values, "role")


# --- conditions ----------------------------------------------------------------------------------


def _exists(path: Path) -> Test:
    if ANY in path:
        return lambda body: bool(_find(body, path))
    return lambda body: _get(body, path) is not _MISSING


def _absent(path: Path) -> Test:
    exists = _exists(path)
    return lambda body: not exists(body)


def _value_test(path: Path, allowed: list[Any], negate: bool) -> Test:
    def test(body: dict[str, Any]) -> bool:
        values = [v for _, v in _find(body, path)] if ANY in path else [_get(body, path)]
        values = [v for v in values if v is not _MISSING]
        if not values:
            return False
        return any(_member(v, allowed) != negate for v in values)

    return test


def _compile_tests(when: When) -> tuple[Test, ...]:
    tests: list[Test] = []
    tests += [_exists(parse_path(p)) for p in when.present]
    tests += [_absent(parse_path(p)) for p in when.absent]
    tests += [_value_test(parse_path(p), v, negate=False) for p, v in when.value_in.items()]
    tests += [_value_test(parse_path(p), v, negate=True) for p, v in when.value_not_in.items()]
    return tuple(tests)


def capabilities_match(when: When, capabilities: Capabilities) -> bool:
    """Whether a family's capabilities satisfy the rule's capability conditions."""
    for name, wanted in when.capabilities.items():
        have = getattr(capabilities, name)
        if isinstance(have, tuple):
            have = list(have)
        options = wanted if isinstance(wanted, list) and not isinstance(have, list) else [wanted]
        if not any(have == option for option in options):
            return False
    return True


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A rule ready for the hot path: field tests and action steps are closures built once."""

    rule: Rule
    id: str
    dialects: frozenset[Dialect] | None
    tests: tuple[Test, ...]
    steps: tuple[Step, ...]
    origin: str = field(default="")

    def applies(self, body: dict[str, Any]) -> bool:
        return all(test(body) for test in self.tests)

    def apply(self, ctx: RewriteContext) -> None:
        ctx.rule = self.id
        for step in self.steps:
            step(ctx)


def compile_rule(rule: Rule, origin: str = "") -> CompiledRule:
    """Validate-once, run-many: raises ValueError for an action that cannot be compiled."""
    return CompiledRule(
        rule=rule,
        id=rule.id,
        dialects=frozenset(rule.when.dialects) if rule.when.dialects is not None else None,
        tests=_compile_tests(rule.when),
        steps=tuple(_compile_action(action) for action in rule.actions),
        origin=origin,
    )
