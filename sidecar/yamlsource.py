"""YAML loading that remembers where each value came from, so validation errors can name a line."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

__all__ = ["SourceError", "YamlDocument", "format_validation_error", "load_yaml"]

Loc = tuple[str | int, ...]


class SourceError(Exception):
    """A file that could not be read, parsed or validated; `errors` are ready-to-print lines."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


@dataclass(frozen=True)
class YamlDocument:
    """Parsed YAML data plus the 1-based line of every mapping key and sequence item."""

    source: str
    data: Any
    lines: dict[Loc, int]

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The line of `loc`, or of its nearest ancestor that appears in the file."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return None


def _index_lines(node: yaml.Node, loc: Loc, lines: dict[Loc, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            child = (*loc, str(key_node.value))
            lines[child] = key_node.start_mark.line + 1
            _index_lines(value_node, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            lines[child] = item.start_mark.line + 1
            _index_lines(item, child, lines)


def load_yaml(path: Path) -> YamlDocument:
    """Read and parse `path`; raise SourceError naming the file (and line) on any failure."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError([f"{source}: cannot read file: {exc.strerror or exc}"]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourceError([f"{where}: invalid YAML: {problem}"]) from exc
    lines: dict[Loc, int] = {}
    if node is not None:
        _index_lines(node, (), lines)
    return YamlDocument(source=source, data=data, lines=lines)


def format_loc(loc: Sequence[str | int]) -> str:
    """`('routes', 0, 'upstream')` -> `routes[0].upstream`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_validation_error(exc: ValidationError, doc: YamlDocument | None, source: str) -> list[str]:
    """One line per pydantic error: `file:line: field.path: message (got: value)`."""
    lines = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        line = doc.line_of(loc) if doc is not None else None
        where = f"{source}:{line}" if line is not None else source
        got = ""
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            shown = repr(err["input"])
            got = f" (got {shown[:80]})"
        lines.append(f"{where}: {format_loc(loc)}: {err['msg']}{got}")
    return lines
