"""Reasoning translation: read the client's intent in any dialect, write it in the target's own.

One internal notion (`Intent`: off / effort / budget / adaptive) is read from whatever the client
sent, then written back the way the target model expects (`ThinkingTarget.style`), with the
constraints that come with thinking (Anthropic sampling limits, budget ranges). The numbers live
in `knowledge/tables/thinking.yaml` (`Tables`); this module holds only the small functions that apply
them. Pure: no I/O, no globals beyond the immutable default tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field

from sidecar.rewrite.injected import THINKING_BLOCK_TYPES
from sidecar.rewrite.rules import Capabilities, Change

__all__ = [
    "DECISIONS",
    "REASONING_FIELDS",
    "Intent",
    "Style",
    "Tables",
    "ThinkingPolicy",
    "ThinkingTarget",
    "apply_thinking",
    "default_tables",
    "needs_thinking",
    "read_intent",
    "target_for",
]

Body = dict[str, Any]


class DecisionInfo(NamedTuple):
    reason: str
    source: str
    actions: tuple[str, ...]


_TRANSLATE_SOURCE = "provider-rules.md §1.4-§1.12, §2.2-§2.4"

# Every decision this module records: rule id -> why, where the fact is, which actions. `explain`
# shows the reason and source; metrics pre-create the (rule, action) label sets from it.
DECISIONS: dict[str, DecisionInfo] = {
    "thinking.translate": DecisionInfo(
        "reasoning intent rewritten in the target model's own field and values",
        _TRANSLATE_SOURCE,
        ("set", "drop"),
    ),
    "thinking.inject": DecisionInfo(
        "operator policy: think although the client did not ask", "config rules.policies", ("set",)
    ),
    "thinking.strip": DecisionInfo(
        "operator policy: remove every reasoning field", "config rules.policies", ("drop",)
    ),
    "thinking.unsupported": DecisionInfo(
        "this model cannot think: reasoning fields would be rejected", "provider-rules.md §5.4", ("drop",)
    ),
    "thinking.max_tokens": DecisionInfo(
        "max_tokens must be greater than thinking.budget_tokens", "provider-rules.md §1.4, §2.1", ("set",)
    ),
    "thinking.history": DecisionInfo(
        "conversation history kept valid for the target (reasoning echoes, thinking blocks)",
        "provider-rules.md §1.4, §1.7, §1.8",
        ("drop",),
    ),
    "thinking.inject.skipped_tool_history": DecisionInfo(
        "not injected: the last tool-use turn has no thinking block, which thinking would reject",
        "provider-rules.md §1.4 (thinking + tools, multi-turn)",
        ("skip",),
    ),
    "thinking.inject.response": DecisionInfo(
        "thinking blocks the sidecar injected removed from the response", "DESIGN.md §4.4", ("drop",)
    ),
}


class Style(StrEnum):
    """How a target model expresses reasoning."""

    NONE = "none"  # cannot think: every reasoning field is removed
    OPENAI_EFFORT = "openai_effort"  # reasoning_effort from the model's accepted set
    ANTHROPIC_BUDGET = "anthropic_budget"  # thinking {enabled, budget_tokens} (Claude 3.7 - 4.5)
    ANTHROPIC_ADAPTIVE = "anthropic_adaptive"  # thinking {adaptive} + output_config.effort (4.6)
    ANTHROPIC_ADAPTIVE_ONLY = "anthropic_adaptive_only"  # 4.7+: enabled is rejected
    GEMINI_BUDGET = "gemini_budget"  # generationConfig.thinkingConfig.thinkingBudget (2.5)
    GEMINI_LEVEL = "gemini_level"  # generationConfig.thinkingConfig.thinkingLevel (3.x)
    VLLM_ENABLE_THINKING = "vllm_enable_thinking"  # chat_template_kwargs.enable_thinking (Qwen3)
    VLLM_THINKING = "vllm_thinking"  # chat_template_kwargs.thinking (DeepSeek V3.1, Granite)
    OPENROUTER = "openrouter"  # reasoning {effort | max_tokens}
    DEEPSEEK = "deepseek"  # thinking {type} (+ reasoning_effort high/max on V4)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AnthropicTables(_Model):
    min_budget: int = Field(default=1024, ge=1)
    max_tokens_headroom: int = Field(default=4096, ge=1)


class BudgetThreshold(_Model):
    min: int = Field(ge=0)
    effort: str


class Tables(_Model):
    """The effort <-> budget <-> level tables (knowledge/thinking.yaml, operator-overridable)."""

    effort_order: tuple[str, ...]
    effort_to_budget: dict[str, int]
    budget_to_effort: tuple[BudgetThreshold, ...]
    anthropic: AnthropicTables = AnthropicTables()
    gemini_level: dict[str, str]

    def budget_for(self, effort: str) -> int:
        return self.effort_to_budget.get(effort, self.effort_to_budget.get("medium", 2048))

    def effort_for(self, budget: int) -> str:
        for row in self.budget_to_effort:
            if budget >= row.min:
                return row.effort
        return self.budget_to_effort[-1].effort

    def nearest_effort(self, wanted: str, accepted: tuple[str, ...]) -> str | None:
        """The accepted effort closest to `wanted` in `effort_order`; a tie goes to the higher one
        (never silently think less), as the `fit` rule action does."""
        if wanted in accepted or not accepted:
            return wanted if wanted in accepted else None
        order = {name: i for i, name in enumerate(self.effort_order)}
        rank = order.get(wanted, order.get("medium", 0))
        return min(accepted, key=lambda e: (abs(order.get(e, rank) - rank), -order.get(e, rank)))


def default_table_data() -> dict[str, Any]:
    """The shipped tables as plain data (operators' overrides are merged over these)."""
    text = resources.files("sidecar.knowledge.tables").joinpath("thinking.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


@cache
def default_tables() -> Tables:
    return Tables.model_validate(default_table_data())


@dataclass(frozen=True, slots=True)
class ThinkingTarget:
    """The reasoning capabilities of the target model, from its family in the rule packs."""

    style: Style = Style.NONE
    efforts: tuple[str, ...] = ()  # accepted reasoning_effort / output_config.effort values
    budget_range: tuple[int, int] | None = None  # inclusive (Gemini 2.5, Anthropic floor)
    can_disable: bool = True  # False: thinking cannot be turned off (Gemini 2.5 Pro, gpt-5.x)
    # strip / keep assistant reasoning_content in the history; None: leave the history alone.
    reasoning_history: Literal["strip", "keep"] | None = None


def target_for(capabilities: Capabilities) -> ThinkingTarget | None:
    """The thinking target a family's capabilities describe; None when the family has no opinion.
    Called once per family at load (the profile carries the result), never per request."""
    if capabilities.reasoning_style is None:
        return None
    style = Style(capabilities.reasoning_style)
    if style is Style.OPENAI_EFFORT and capabilities.reasoning_efforts == ():
        style = Style.NONE  # accepts no effort at all (o1-mini, grok-4): nothing to write or inject
    return ThinkingTarget(
        style=style,
        efforts=tuple(capabilities.reasoning_efforts or ()),
        budget_range=capabilities.thinking_budget_range,
        can_disable=capabilities.thinking_can_disable,
        reasoning_history=capabilities.reasoning_history,
    )


@dataclass(frozen=True, slots=True)
class Intent:
    """What the client asked for, whatever the dialect it used."""

    mode: Literal["off", "effort", "budget", "adaptive"]
    effort: str | None = None
    budget: int | None = None
    source: str = ""  # the field that carried it, for change records


PolicyMode = Literal["translate", "inject", "strip", "passthrough"]


@dataclass(frozen=True, slots=True)
class ThinkingPolicy:
    """Operator choice for reasoning fields (per route, family or model)."""

    mode: PolicyMode = "translate"
    effort: str | None = None  # for inject
    budget: int | None = None  # for inject
    # Write reasoning the way this upstream wants it whatever the model (e.g. `openrouter` for a
    # route to OpenRouter, whose model names are Claude's or Gemini's but whose API is its own).
    style: Style | None = None


@dataclass(slots=True)
class _Rewrite:
    body: Body
    changes: list[Change] = field(default_factory=list)

    def set(self, rule: str, path: str, value: Any, action: str = "set") -> None:
        parent, key = _parent(self.body, path, create=True)
        before = parent.get(key)
        if before == value and key in parent:
            return
        parent[key] = value
        self.changes.append(Change(rule, action, path, before, value))

    def drop(self, rule: str, path: str) -> None:
        parent, key = _parent(self.body, path, create=False)
        if parent is not None and key in parent:
            before = parent.pop(key)
            self.changes.append(Change(rule, "drop", path, before, None))
            _prune_empty(self.body, path)


# Every top-level field a client may use to express reasoning, in the order they are read.
REASONING_FIELDS = (
    "reasoning_effort",
    "thinking",
    "output_config.effort",
    "reasoning",
    "thinking_config",
    "thinkingConfig",
    "generationConfig.thinkingConfig",
    "extra_body.google.thinking_config",
    "chat_template_kwargs.enable_thinking",
    "chat_template_kwargs.thinking",
)


def _get(body: Body, path: str) -> Any:
    node: Any = body
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _parent(body: Body, path: str, create: bool) -> tuple[Any, str]:
    parts = path.split(".")
    node: Any = body
    for part in parts[:-1]:
        child = node.get(part) if isinstance(node, dict) else None
        if not isinstance(child, dict):
            if not create:
                return None, parts[-1]
            child = {}
            node[part] = child
        node = child
    return node, parts[-1]


def _prune_empty(body: Body, path: str) -> None:
    """Remove containers a drop left empty (`output_config: {}` is not what the client meant)."""
    parts = path.split(".")[:-1]
    while parts:
        parent = _get(body, ".".join(parts[:-1])) if len(parts) > 1 else body
        if not (isinstance(parent, dict) and parent.get(parts[-1]) == {}):
            return
        del parent[parts[-1]]
        parts.pop()


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def read_intent(body: Body, tables: Tables) -> Intent | None:
    """The client's reasoning intent from the first field that states one, or None."""
    effort = body.get("reasoning_effort")
    if isinstance(effort, dict):
        effort = effort.get("effort")
    if isinstance(effort, str):
        if effort in ("none", "disable"):
            return Intent("off", source="reasoning_effort")
        return Intent("effort", effort=effort, source="reasoning_effort")

    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        kind = thinking.get("type")
        if kind == "disabled":
            return Intent("off", source="thinking")
        if kind == "adaptive":
            level = _get(body, "output_config.effort")
            return Intent("adaptive", effort=level if isinstance(level, str) else None, source="thinking")
        if kind == "enabled":
            budget = _int(thinking.get("budget_tokens"))
            if budget is None:  # DeepSeek-style {type: enabled}
                return Intent("adaptive", source="thinking")
            return Intent("budget", budget=budget, effort=tables.effort_for(budget), source="thinking")
    level = _get(body, "output_config.effort")
    if isinstance(level, str):
        return Intent("effort", effort=level, source="output_config.effort")

    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict):
        if reasoning.get("enabled") is False or reasoning.get("effort") == "none":
            return Intent("off", source="reasoning")
        budget = _int(reasoning.get("max_tokens"))
        if budget is not None:
            return Intent("budget", budget=budget, effort=tables.effort_for(budget), source="reasoning")
        if isinstance(reasoning.get("effort"), str):
            return Intent("effort", effort=reasoning["effort"], source="reasoning")
        if reasoning.get("enabled") is True:
            return Intent("adaptive", source="reasoning")

    for path in ("thinking_config", "thinkingConfig", "generationConfig.thinkingConfig",
                 "extra_body.google.thinking_config"):  # fmt: skip
        config = _get(body, path)
        if isinstance(config, dict):
            budget = _int(config.get("thinking_budget", config.get("thinkingBudget")))
            level = config.get("thinking_level", config.get("thinkingLevel"))
            if budget == 0:
                return Intent("off", source=path)
            if budget is not None and budget > 0:
                return Intent("budget", budget=budget, effort=tables.effort_for(budget), source=path)
            if budget == -1:
                return Intent("adaptive", source=path)
            if isinstance(level, str):
                return Intent("effort", effort=level, source=path)

    kwargs = body.get("chat_template_kwargs")
    if isinstance(kwargs, dict):
        for key in ("enable_thinking", "thinking"):
            if isinstance(kwargs.get(key), bool):
                path = f"chat_template_kwargs.{key}"
                return Intent("adaptive", source=path) if kwargs[key] else Intent("off", source=path)
    return None


def needs_thinking(body: Body, target: ThinkingTarget, policy: ThinkingPolicy) -> bool:
    """Cheap pre-check: can `apply_thinking` change anything here? Most bodies carry no reasoning
    field, and the history is scanned only for targets whose history rules could apply."""
    if policy.mode == "passthrough":
        return False
    if policy.mode in ("inject", "strip"):
        return True
    if any(key in body for key in _TOP_LEVEL_REASONING):
        return True
    history = target.reasoning_history == "strip"
    blocks = target.style in _ANTHROPIC
    messages = body.get("messages")
    if not (history or blocks) or not isinstance(messages, list):
        return False
    for message in messages:
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        if history and ("reasoning_content" in message or "reasoning" in message):
            return True
        content = message.get("content")
        if blocks and isinstance(content, list) and any(_is_thinking_block(b) for b in content):
            return True
    return False


def _is_thinking_block(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in THINKING_BLOCK_TYPES


_TOP_LEVEL_REASONING = frozenset(path.split(".", 1)[0] for path in REASONING_FIELDS)


def _present_reasoning_fields(body: Body) -> list[str]:
    return [path for path in REASONING_FIELDS if _get(body, path) is not None]


def _effort_of(intent: Intent, tables: Tables) -> str:
    if intent.effort is not None:
        return intent.effort
    if intent.budget is not None:
        return tables.effort_for(intent.budget)
    return "medium"


def _budget_of(intent: Intent, tables: Tables) -> int:
    if intent.budget is not None:
        return intent.budget
    return tables.budget_for(_effort_of(intent, tables))


def apply_thinking(
    body: Body, target: ThinkingTarget, policy: ThinkingPolicy, tables: Tables
) -> tuple[Body, list[Change]]:
    """Rewrite `body`'s reasoning fields for `target` under `policy`; returns (body, changes).

    `body` is modified in place (the engine hands over its own working copy).
    """
    if policy.mode == "passthrough":
        return body, []
    if policy.style is not None and policy.style is not target.style:
        target = ThinkingTarget(policy.style, target.efforts, target.budget_range, target.can_disable,
                                target.reasoning_history)  # fmt: skip
    rw = _Rewrite(body)
    present = _present_reasoning_fields(body)
    if policy.mode == "strip" or target.style is Style.NONE:
        rule = "thinking.strip" if policy.mode == "strip" else "thinking.unsupported"
        for path in present:
            rw.drop(rule, path)
        _hygiene(rw, target, thinking_on=False)
        return body, rw.changes

    intent = read_intent(body, tables)
    injected = False
    if intent is None and policy.mode == "inject":
        if policy.budget is not None:
            intent = Intent("budget", budget=policy.budget, effort=tables.effort_for(policy.budget))
        else:
            intent = Intent("effort", effort=policy.effort or "medium")
        intent = Intent(intent.mode, intent.effort, intent.budget, source="policy.inject")
        injected = True
    if intent is None:
        # No reasoning asked for: on Anthropic that means thinking is off.
        _hygiene(rw, target, thinking_on=False if target.style in _ANTHROPIC else None)
        return body, rw.changes

    if injected and target.style in _ANTHROPIC and _missing_thinking_on_tool_turn(body):
        # Injecting would cause "Expected 'thinking' or 'redacted_thinking'" (provider-rules.md
        # §1.4): the client's history has no thinking block to lead its last tool-use turn.
        rw.changes.append(Change("thinking.inject.skipped_tool_history", "skip", "thinking", None, None))
        return body, rw.changes

    # Clear every reasoning field the target does not use, then write the target's own.
    own = set(_OWN_FIELDS[target.style])
    for path in present:
        if path not in own:
            rw.drop("thinking.translate", path)
    on = intent.mode != "off"
    rule = "thinking.inject" if injected else "thinking.translate"
    # Sampling limits that come with thinking (temperature, top_k, top_p, forced tool_choice) are
    # rules in knowledge/anthropic.yaml; they run after this step, on the body it leaves.
    _WRITERS[target.style](rw, rule, intent, target, tables)
    _hygiene(rw, target, thinking_on=on)
    return body, rw.changes


_ANTHROPIC = frozenset({Style.ANTHROPIC_BUDGET, Style.ANTHROPIC_ADAPTIVE, Style.ANTHROPIC_ADAPTIVE_ONLY})

_OWN_FIELDS: dict[Style, tuple[str, ...]] = {
    Style.NONE: (),
    Style.OPENAI_EFFORT: ("reasoning_effort",),
    Style.ANTHROPIC_BUDGET: ("thinking",),
    Style.ANTHROPIC_ADAPTIVE: ("thinking", "output_config.effort"),
    Style.ANTHROPIC_ADAPTIVE_ONLY: ("thinking", "output_config.effort"),
    Style.GEMINI_BUDGET: ("generationConfig.thinkingConfig",),
    Style.GEMINI_LEVEL: ("generationConfig.thinkingConfig",),
    Style.VLLM_ENABLE_THINKING: ("chat_template_kwargs.enable_thinking",),
    Style.VLLM_THINKING: ("chat_template_kwargs.thinking",),
    Style.OPENROUTER: ("reasoning",),
    Style.DEEPSEEK: ("thinking", "reasoning_effort"),
}


def _write_openai(rw: _Rewrite, rule: str, intent: Intent, target: ThinkingTarget, tables: Tables) -> None:
    """`reasoning_effort` as the client meant it; fitting it into the model's accepted set is the
    `reasoning-effort-fit` rule's job (one place for that decision)."""
    if intent.mode == "off":
        if "none" in target.efforts:
            rw.set(rule, "reasoning_effort", "none")
        else:  # o-series and gpt-5 cannot stop reasoning: leave the model's default
            rw.drop(rule, "reasoning_effort")
        return
    rw.set(rule, "reasoning_effort", _effort_of(intent, tables))


def _write_anthropic(rw: _Rewrite, rule: str, intent: Intent, target: ThinkingTarget, tables: Tables) -> None:
    if intent.mode == "off":
        if target.style is Style.ANTHROPIC_ADAPTIVE_ONLY and not target.can_disable:
            rw.drop(rule, "thinking")
        else:
            rw.set(rule, "thinking", {"type": "disabled"})
        rw.drop(rule, "output_config.effort")
        return
    if target.style is Style.ANTHROPIC_BUDGET:
        _write_anthropic_budget(rw, rule, _budget_of(intent, tables), target, tables)
        return
    rw.set(rule, "thinking", _thinking_object(rw.body, "adaptive"))
    if intent.effort is not None or intent.budget is not None:
        effort = tables.nearest_effort(_effort_of(intent, tables), target.efforts)
        if effort is not None:
            rw.set(rule, "output_config.effort", effort)


def _thinking_object(body: Body, kind: str, **fields: Any) -> dict[str, Any]:
    """The `thinking` object to send: the client's own when it already has this type (its other
    keys, e.g. `display`, survive), else a new one."""
    current = body.get("thinking")
    base = dict(current) if isinstance(current, dict) and current.get("type") == kind else {"type": kind}
    base.update(fields)
    return base


def _write_anthropic_budget(
    rw: _Rewrite, rule: str, budget: int, target: ThinkingTarget, tables: Tables
) -> None:
    floor = tables.anthropic.min_budget
    if target.budget_range is not None:
        floor = max(floor, target.budget_range[0])
        budget = min(budget, target.budget_range[1])
    budget = max(budget, floor)
    max_tokens = _int(rw.body.get("max_tokens"))
    if max_tokens is None:
        # `max_tokens must be greater than thinking.budget_tokens` (§1.4): room for the answer.
        rw.set("thinking.max_tokens", "max_tokens", budget + tables.anthropic.max_tokens_headroom)
    elif budget >= max_tokens:
        if max_tokens - 1 >= floor:
            budget = max_tokens - 1
        else:  # the client's max_tokens leaves no room for the minimum budget: raise it
            budget = floor
            rw.set("thinking.max_tokens", "max_tokens", floor + tables.anthropic.max_tokens_headroom)
    rw.set(rule, "thinking", _thinking_object(rw.body, "enabled", budget_tokens=budget))


def _write_gemini(rw: _Rewrite, rule: str, intent: Intent, target: ThinkingTarget, tables: Tables) -> None:
    """Gemini native `generationConfig.thinkingConfig`: a budget on 2.5, a level on 3.x (§1.6)."""
    on = intent.mode != "off"
    if target.style is Style.GEMINI_LEVEL:
        level = tables.gemini_level.get(_effort_of(intent, tables) if on else "none", "high")
        if target.efforts:
            level = tables.nearest_effort(level, target.efforts) or level
        rw.set(rule, _GEMINI_CONFIG, {"thinkingLevel": level, "includeThoughts": on})
        return
    low, high = target.budget_range or (0, 24576)
    budget = _budget_of(intent, tables) if on else 0
    if budget == 0 and not target.can_disable:
        budget = low  # 2.5 Pro "only works in thinking mode": the smallest budget is closest to off
    if budget:
        budget = max(low, min(high, budget))
    rw.set(rule, _GEMINI_CONFIG, {"thinkingBudget": budget, "includeThoughts": budget > 0})


_GEMINI_CONFIG = "generationConfig.thinkingConfig"


def _write_vllm(rw: _Rewrite, rule: str, intent: Intent, target: ThinkingTarget, tables: Tables) -> None:
    key = "enable_thinking" if target.style is Style.VLLM_ENABLE_THINKING else "thinking"
    rw.set(rule, f"chat_template_kwargs.{key}", intent.mode != "off")


def _write_openrouter(
    rw: _Rewrite, rule: str, intent: Intent, target: ThinkingTarget, tables: Tables
) -> None:
    if intent.mode == "off":
        rw.set(rule, "reasoning", {"enabled": False})
    elif intent.mode == "budget" and intent.budget is not None:
        rw.set(rule, "reasoning", {"max_tokens": intent.budget})
    else:
        rw.set(rule, "reasoning", {"effort": _effort_of(intent, tables)})


def _write_deepseek(rw: _Rewrite, rule: str, intent: Intent, target: ThinkingTarget, tables: Tables) -> None:
    # DeepSeek reduces `thinking` to {type}; effort only high/max (provider-rules.md §1.7).
    rw.set(rule, "thinking", {"type": "disabled" if intent.mode == "off" else "enabled"})
    if intent.mode != "off" and target.efforts and (intent.effort or intent.budget):
        effort = tables.nearest_effort(_effort_of(intent, tables), target.efforts)
        if effort is not None:
            rw.set(rule, "reasoning_effort", effort)
    else:
        rw.drop(rule, "reasoning_effort")


# Style.NONE never reaches a writer: apply_thinking removes every reasoning field first.
_WRITERS = {
    Style.OPENAI_EFFORT: _write_openai,
    Style.ANTHROPIC_BUDGET: _write_anthropic,
    Style.ANTHROPIC_ADAPTIVE: _write_anthropic,
    Style.ANTHROPIC_ADAPTIVE_ONLY: _write_anthropic,
    Style.GEMINI_BUDGET: _write_gemini,
    Style.GEMINI_LEVEL: _write_gemini,
    Style.VLLM_ENABLE_THINKING: _write_vllm,
    Style.VLLM_THINKING: _write_vllm,
    Style.OPENROUTER: _write_openrouter,
    Style.DEEPSEEK: _write_deepseek,
}


def _missing_thinking_on_tool_turn(body: Body) -> bool:
    """True when the last assistant turn that used a tool does not start with a thinking block."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return False
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        content = message.get("content")
        blocks = content if isinstance(content, list) else []
        uses_tool = any(isinstance(b, dict) and b.get("type") == "tool_use" for b in blocks)
        uses_tool = uses_tool or bool(message.get("tool_calls"))
        if not uses_tool:
            continue
        first = blocks[0] if blocks else None
        return not (_is_thinking_block(first) or message.get("thinking_blocks"))
    return False


def _hygiene(rw: _Rewrite, target: ThinkingTarget, thinking_on: bool | None) -> None:
    """Keep history valid for the target: reasoning echoes and thinking blocks (§1.4, §1.7, §1.8)."""
    messages = rw.body.get("messages")
    if not isinstance(messages, list):
        return
    anthropic = target.style in _ANTHROPIC
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        if target.reasoning_history == "strip":
            for key in ("reasoning_content", "reasoning"):
                if key in message:
                    before = message.pop(key)
                    rw.changes.append(
                        Change("thinking.history", "drop", f"messages[{i}].{key}", before, None)
                    )
        content = message.get("content")
        if anthropic and thinking_on is False and isinstance(content, list):
            kept = [b for b in content if not _is_thinking_block(b)]
            if len(kept) != len(content):
                # "When thinking is disabled, an assistant message cannot contain thinking" (§1.4).
                message["content"] = kept
                rw.changes.append(
                    Change(
                        "thinking.history",
                        "drop",
                        f"messages[{i}].content[thinking]",
                        len(content) - len(kept),
                        None,
                    )
                )
