"""Model string / Azure deployment / Bedrock model id / alias -> `ModelProfile`.

Resolution order: the model named by the URL (Azure deployment, Bedrock model id, Gemini model),
else the body's `model`; an operator alias for that name wins over both. The name is then
normalised (provider and region prefixes, version and date suffixes, dotted versions) and matched
against the families' anchored patterns in load order. Results are memoised per model string in a
bounded LRU because this runs on every request.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import unquote

from sidecar.rewrite.rules import UNKNOWN_FAMILY, Capabilities, CompiledRule
from sidecar.rewrite.thinking import ThinkingTarget

__all__ = ["FamilyEntry", "ModelProfile", "ModelResolver", "model_from_path", "normalise"]

# Bedrock cross-region inference profile prefixes (§1.5).
_REGION = re.compile(r"^(?:us|eu|apac|global|us-gov|jp|au|ca|apne|sa)\.")
# Bedrock vendor prefixes. Most are dropped (`anthropic.claude-...` -> `claude-...`); DeepSeek's
# ids carry no vendor word after the dot (`deepseek.r1-v1:0`), so the vendor becomes a token.
_VENDORS = {
    "anthropic.": "",
    "amazon.": "",
    "meta.": "",
    "mistral.": "",
    "cohere.": "",
    "ai21.": "",
    "openai.": "",
    "qwen.": "",
    "writer.": "",
    "deepseek.": "deepseek-",
}
_BEDROCK_VERSION = re.compile(r"-v\d+$")
_THROUGHPUT_OR_REVISION = re.compile(r"(?::\d+k?)+$")
_DATE = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4})$")
_LATEST = re.compile(r"-latest$")
_DOTTED = re.compile(r"(?<=\d)\.(?=\d)")
_SEPARATORS = re.compile(r"[_\s]+")

# Model names carried in the URL rather than the body.
_URL_MODEL = (
    re.compile(r"/openai/deployments/([^/]+)/"),  # Azure (dated API versions)
    re.compile(r"/model/([^/]+)/(?:invoke|invoke-with-response-stream|converse|converse-stream)$"),
    re.compile(r"/models/([^/:]+):(?:generateContent|streamGenerateContent)$"),  # Gemini
)


def normalise(name: str) -> str:
    """`us.anthropic.claude-sonnet-4-20250514-v1:0` -> `claude-sonnet-4`; `azure/gpt-5.1` -> `gpt-5-1`."""
    text = name.strip().lower()
    if text.startswith("ft:"):  # OpenAI fine-tunes: ft:<base>:<org>::<id>
        text = text.split(":")[1]
    text = text.rsplit("/", 1)[-1]  # provider routes (openai/, azure/o_series/, bedrock/...), ARNs
    text = text.split("@", 1)[0]  # Vertex `@version`
    text = _THROUGHPUT_OR_REVISION.sub("", text)  # Bedrock `:0`, `:51k`
    text = _REGION.sub("", text)
    for vendor, replacement in _VENDORS.items():
        if text.startswith(vendor):
            text = replacement + text[len(vendor) :]
            text = _BEDROCK_VERSION.sub("", text)
            break
    text = _SEPARATORS.sub("-", _DOTTED.sub("-", text))
    for _ in range(2):  # `-latest` and a date may both be present, in either order
        text = _DATE.sub("", _LATEST.sub("", text))
    return text


def model_from_path(path: str) -> str | None:
    """The model a URL names (Azure deployment, Bedrock model id, Gemini model), percent-decoded."""
    for pattern in _URL_MODEL:
        found = pattern.search(path)
        if found:
            return unquote(found.group(1))
    return None


@dataclass(frozen=True, slots=True)
class FamilyEntry:
    """A family compiled for matching: its patterns and the rules that can apply to it."""

    id: str
    patterns: tuple[re.Pattern[str], ...]
    capabilities: Capabilities
    rules: tuple[CompiledRule, ...]
    thinking: ThinkingTarget | None = None  # derived from capabilities once, at load


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """What the engine knows about the target model."""

    family: str = UNKNOWN_FAMILY
    model: str | None = None  # the name as the request gave it (URL or body)
    canonical: str | None = None  # the alias target or the name itself, normalised
    source: str = "none"  # where the name came from: url | body | none (+ "+alias")
    capabilities: Capabilities | None = None
    rules: tuple[CompiledRule, ...] = ()
    thinking: ThinkingTarget | None = None

    @property
    def known(self) -> bool:
        return self.family != UNKNOWN_FAMILY


class ModelResolver:
    """Names -> profiles, with a bounded memo per (name, source)."""

    def __init__(
        self,
        families: Sequence[FamilyEntry],
        aliases: Mapping[str, str],
        unknown: FamilyEntry,
        cache_size: int = 4096,
    ) -> None:
        self._families = tuple(families)
        self._aliases = dict(aliases)
        self._aliases_folded = {k.lower(): v for k, v in aliases.items()}
        self._unknown = unknown
        self._lookup = lru_cache(maxsize=cache_size)(self._resolve)

    def resolve(self, path: str, body_model: object) -> ModelProfile:
        """The profile for a request: URL model first, else the body's `model` string."""
        name = model_from_path(path)
        source = "url"
        if name is None:
            if not isinstance(body_model, str) or not body_model:
                return self._lookup(None, "none")
            name, source = body_model, "body"
        return self._lookup(name, source)

    def by_name(self, name: str) -> ModelProfile:
        return self._lookup(name, "body")

    def _alias(self, name: str) -> str | None:
        target = self._aliases.get(name)
        if target is None:
            target = self._aliases_folded.get(name.lower())
        if target is None and "/" in name:
            return self._alias(name.rsplit("/", 1)[-1])
        return target

    def _resolve(self, name: str | None, source: str) -> ModelProfile:
        if name is None:
            return self._profile(self._unknown, None, None, source)
        target = self._alias(name)
        if target is not None:
            source += "+alias"
        canonical = normalise(target if target is not None else name)
        for entry in self._families:
            if any(p.fullmatch(canonical) for p in entry.patterns):
                return self._profile(entry, name, canonical, source)
        return self._profile(self._unknown, name, canonical, source)

    @staticmethod
    def _profile(entry: FamilyEntry, name: str | None, canonical: str | None, source: str) -> ModelProfile:
        return ModelProfile(
            family=entry.id,
            model=name,
            canonical=canonical,
            source=source,
            capabilities=entry.capabilities,
            rules=entry.rules,
            thinking=entry.thinking,
        )
