"""Loading rule packs: located errors, operator overrides, disabling, cross-references."""

from __future__ import annotations

from pathlib import Path

import pytest

from sidecar.rewrite.knowledge import BUILTIN_DIR, KnowledgeError, load_knowledge


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_builtin_packs_load_one_file_per_provider() -> None:
    names = {p.name for p in BUILTIN_DIR.glob("*.yaml")}
    assert {"openai.yaml", "anthropic.yaml", "deepseek.yaml", "xai.yaml", "mistral.yaml"} <= names
    knowledge = load_knowledge()
    assert len(knowledge.rules) >= 20
    assert "openai-o-series" in knowledge.by_id


def test_error_names_file_line_rule_id_and_field(tmp_path: Path) -> None:
    pack = write(
        tmp_path,
        "mine.yaml",
        """\
rules:
  - id: ok-rule
    reason: fine
    source: ticket 1
    actions: [{op: drop, path: a}]
  - id: my-broken-rule
    reason: broken
    source: ticket 2
    actions:
      - op: rename
        from: max_tokens
        too: max_completion_tokens
""",
    )
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(packs=[pack])
    text = "\n".join(info.value.errors)
    assert f"{pack}:12: rules[1] (my-broken-rule).actions[0].too: Extra inputs are not permitted" in text
    assert f"{pack}:10: rules[1] (my-broken-rule).actions[0].to: Field required" in text


def test_family_error_names_family_id(tmp_path: Path) -> None:
    pack = write(tmp_path, "fam.yaml", "families:\n  - id: acme\n    match: ['(unclosed']\n")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(packs=[pack])
    (line,) = info.value.errors
    assert line.startswith(f"{pack}:3: families[0] (acme).match[0]: Value error, invalid regular expression")


def test_invalid_yaml_is_located(tmp_path: Path) -> None:
    pack = write(tmp_path, "bad.yaml", "rules:\n  - id: x\n    reason: [unclosed\n")
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(packs=[pack])
    assert info.value.errors[0].startswith(f"{pack}:")
    assert "invalid YAML" in info.value.errors[0]


def test_missing_pack_file(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(packs=[tmp_path / "nope.yaml"])
    assert "cannot read file" in info.value.errors[0]


def test_operator_rule_with_builtin_id_replaces_it(tmp_path: Path) -> None:
    pack = write(
        tmp_path,
        "override.yaml",
        """\
rules:
  - id: anthropic-max-tokens-default
    reason: our apps want longer answers by default
    source: ops decision 2026-11
    when: {dialects: [anthropic], families: [claude-4-5], absent: [max_tokens]}
    actions: [{op: set_default, path: max_tokens, value: 16000}]
""",
    )
    knowledge = load_knowledge(packs=[pack])
    rule = knowledge.rules["anthropic-max-tokens-default"]
    assert rule.rule.actions[0].value == 16000  # type: ignore[union-attr]
    assert str(pack) == rule.origin
    assert rule in knowledge.by_id["claude-4-5"].rules
    assert rule not in knowledge.by_id["claude-4"].rules


def test_operator_family_is_tried_before_builtin_ones(tmp_path: Path) -> None:
    pack = write(
        tmp_path,
        "fam.yaml",
        """\
families:
  - id: acme-o-proxy
    match: ['o4-mini-acme']
    capabilities: {output_limit_field: max_tokens}
""",
    )
    resolver = load_knowledge(packs=[pack]).resolver({})
    assert resolver.by_name("o4-mini-acme").family == "acme-o-proxy"
    assert resolver.by_name("o4-mini").family == "openai-o-series"


def test_disable_removes_rules_everywhere_and_rejects_typos() -> None:
    knowledge = load_knowledge(disable=["openai-temperature-default-only"])
    assert "openai-temperature-default-only" not in knowledge.rules
    assert all(r.id != "openai-temperature-default-only" for r in knowledge.by_id["openai-gpt-5"].rules)
    with pytest.raises(KnowledgeError, match="no rule has the id 'openai-temprature'"):
        load_knowledge(disable=["openai-temprature"])


def test_rule_naming_an_unknown_family_is_an_error(tmp_path: Path) -> None:
    pack = write(
        tmp_path,
        "r.yaml",
        "rules:\n  - {id: r1, reason: x, source: y, when: {families: [gpt-7]}, actions: [{op: drop, path: a}]}\n",
    )
    with pytest.raises(KnowledgeError, match="names unknown family 'gpt-7'"):
        load_knowledge(packs=[pack])


def test_rules_for_unknown_only_when_named(tmp_path: Path) -> None:
    pack = write(
        tmp_path,
        "u.yaml",
        "rules:\n  - {id: r1, reason: x, source: y, when: {families: [unknown]}, actions: [{op: drop, path: a}]}\n"
        "  - {id: r2, reason: x, source: y, actions: [{op: drop, path: b}]}\n",
    )
    knowledge = load_knowledge(packs=[pack])
    assert [r.id for r in knowledge.by_id["unknown"].rules] == ["r1"]
    assert "r2" in [r.id for r in knowledge.by_id["openai-chat"].rules]


def test_duplicate_builtin_ids_are_errors(tmp_path: Path) -> None:
    a = write(
        tmp_path,
        "a.yaml",
        "families: [{id: fam}]\nrules: [{id: r, reason: x, source: y, actions: [{op: drop, path: a}]}]\n",
    )
    b = write(
        tmp_path,
        "b.yaml",
        "families: [{id: fam}]\nrules: [{id: r, reason: x, source: y, actions: [{op: drop, path: a}]}]\n",
    )
    with pytest.raises(KnowledgeError) as info:
        load_knowledge(builtin=[a, b])
    text = "\n".join(info.value.errors)
    assert "family 'fam' is defined twice" in text
    assert "rule 'r' is defined twice" in text
