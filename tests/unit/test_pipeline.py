"""RequestPipeline: which bodies are examined, what is forwarded, and every passthrough reason."""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import brotli
import orjson
import pytest
import zstandard

from sidecar.config import Dialect, SidecarConfig
from sidecar.rewrite.knowledge import KnowledgeError
from sidecar.rewrite.pipeline import RequestPipeline, in_scope, is_signed

CHAT = "/v1/chat/completions"
JSON = "application/json"
LEGACY = {
    "model": "o4-mini",
    "messages": [{"role": "user", "content": "hi"}],
    "max_tokens": 100,
    "temperature": 0.2,
    "top_p": 0.9,
    "parallel_tool_calls": False,
}
FIXED = {"model": "o4-mini", "messages": [{"role": "user", "content": "hi"}], "max_completion_tokens": 100}


def pipeline(**config: Any) -> RequestPipeline:
    return RequestPipeline(SidecarConfig.model_validate(config))


PIPE = pipeline(aliases={"prod-reasoner": "o4-mini"})


def test_unchanged_body_is_forwarded_as_the_same_bytes() -> None:
    raw = b'{"model": "gpt-4o",  "messages": [], "max_tokens": 5}'
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, JSON, None, raw)
    assert prepared.body is raw
    assert (prepared.changes, prepared.passthrough, prepared.family) == ((), None, "openai-chat")
    assert not prepared.modified


def test_changed_body_is_orjson_encoded() -> None:
    prepared = PIPE.prepare(
        Dialect.OPENAI, CHAT, "application/json; charset=utf-8", None, orjson.dumps(LEGACY)
    )
    assert orjson.loads(prepared.body) == FIXED
    assert prepared.body == orjson.dumps(FIXED)
    assert prepared.family == "openai-o-series"
    assert prepared.modified and not prepared.decoded
    assert prepared.changes[0].rule == "openai-max-tokens-to-max-completion-tokens"


def test_azure_deployment_alias_from_url() -> None:
    body = orjson.dumps({k: v for k, v in LEGACY.items() if k != "model"})
    prepared = PIPE.prepare(
        Dialect.AZURE, "/openai/deployments/prod-reasoner/chat/completions", JSON, None, body
    )
    assert prepared.family == "openai-o-series"
    assert "max_completion_tokens" in orjson.loads(prepared.body)


@pytest.mark.parametrize(
    ("dialect", "path", "expected"),
    [
        (Dialect.OPENAI, "/v1/chat/completions", True),
        (Dialect.OPENAI_COMPATIBLE, "/api/v1/chat/completions/", True),
        (Dialect.AZURE, "/openai/deployments/x/chat/completions", True),
        (Dialect.OPENAI, "/v1/embeddings", False),
        (Dialect.OPENAI, "/v1/responses", False),
        (Dialect.OPENAI, "/v1/files", False),
        (Dialect.ANTHROPIC, "/v1/messages", True),
        (Dialect.ANTHROPIC, "/v1/messages/count_tokens", False),
        (Dialect.ANTHROPIC, "/v1/chat/completions", False),
        (Dialect.BEDROCK, "/model/anthropic.claude-opus-4-7/invoke", True),
        (Dialect.BEDROCK, "/model/x/converse-stream", True),
        (Dialect.BEDROCK, "/foundation-models", False),
        (Dialect.OPENAI_COMPATIBLE, "/v1beta/models/gemini-2.5-pro:generateContent", True),
    ],
)
def test_scope(dialect: Dialect, path: str, expected: bool) -> None:
    assert in_scope(dialect, path) is expected


def test_out_of_scope_path_is_not_examined() -> None:
    raw = orjson.dumps(LEGACY)
    prepared = PIPE.prepare(Dialect.OPENAI, "/v1/embeddings", JSON, None, raw)
    assert (prepared.body, prepared.changes, prepared.passthrough, prepared.family) == (raw, (), None, "none")


def test_empty_body() -> None:
    assert PIPE.prepare(Dialect.OPENAI, CHAT, None, None, b"").passthrough is None


@pytest.mark.parametrize(
    ("content_type", "body", "reason"),
    [
        ("text/plain", orjson.dumps(LEGACY), "not_json"),
        ("application/octet-stream", orjson.dumps(LEGACY), "not_json"),
        ("multipart/form-data; boundary=x", orjson.dumps(LEGACY), "not_json"),
        ("audio/mpeg", orjson.dumps(LEGACY), "not_json"),
        (JSON, b'{"model": "o4-mini", "max_tokens": ', "parse_error"),
        (JSON, b'[{"model": "o4-mini"}]', "parse_error"),
        (JSON, b'{"model": "o4-mini", "s": "\xff"}', "parse_error"),
        (JSON, orjson.dumps({**LEGACY, "model": "demo1"}), "unknown_model"),
        (JSON, orjson.dumps({k: v for k, v in LEGACY.items() if k != "model"}), "unknown_model"),
    ],
)
def test_passthrough_reasons_forward_original_bytes(content_type: str, body: bytes, reason: str) -> None:
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, content_type, None, body)
    assert prepared.passthrough == reason
    assert prepared.body is body
    assert prepared.changes == ()


def test_json_object_without_content_type_is_still_examined() -> None:
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, None, None, b"  " + orjson.dumps(LEGACY))
    assert orjson.loads(prepared.body) == FIXED
    assert PIPE.prepare(Dialect.OPENAI, CHAT, None, None, b"model=o3").passthrough == "not_json"


def test_vendor_json_type_is_examined() -> None:
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, "application/vnd.acme+json", None, orjson.dumps(LEGACY))
    assert prepared.changes


ENCODERS = {
    "gzip": lambda b: gzip.compress(b, mtime=0),
    "deflate": zlib.compress,
    "br": brotli.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_encoded_body_is_decoded_rewritten_and_sent_plain(coding: str) -> None:
    raw = ENCODERS[coding](orjson.dumps(LEGACY))
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, JSON, coding, raw)
    assert prepared.decoded
    assert orjson.loads(prepared.body) == FIXED


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_encoded_body_without_changes_keeps_the_original_encoded_bytes(coding: str) -> None:
    raw = ENCODERS[coding](orjson.dumps({**LEGACY, "model": "gpt-4o"}))
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, JSON, coding.upper(), raw)
    assert prepared.body is raw
    assert not prepared.decoded and not prepared.changes


def test_raw_deflate_and_stacked_codings() -> None:
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    data = raw_deflate.compress(orjson.dumps(LEGACY)) + raw_deflate.flush()
    assert orjson.loads(PIPE.prepare(Dialect.OPENAI, CHAT, JSON, "deflate", data).body) == FIXED
    stacked = brotli.compress(gzip.compress(orjson.dumps(LEGACY)))
    assert orjson.loads(PIPE.prepare(Dialect.OPENAI, CHAT, JSON, "gzip, br", stacked).body) == FIXED


@pytest.mark.parametrize("coding", sorted(ENCODERS))
def test_compression_bomb_is_passed_through_untouched(coding: str) -> None:
    small = pipeline(limits={"max_body_bytes": 4096})
    bomb = ENCODERS[coding](b'{"model": "o4-mini", "pad": "' + b"0" * 1_000_000 + b'"}')
    assert len(bomb) < 4096
    prepared = small.prepare(Dialect.OPENAI, CHAT, JSON, coding, bomb)
    assert prepared.passthrough == "too_large"
    assert prepared.body is bomb and not prepared.decoded


@pytest.mark.parametrize(
    ("coding", "data"),
    [
        ("gzip", b"not gzip at all"),
        ("gzip", gzip.compress(orjson.dumps(LEGACY))[:-12]),  # truncated
        ("br", b"\x00garbage"),
        ("zstd", b"garbage!"),
        ("compress", b"x"),
        ("gzip, gzip, gzip, gzip", b"x"),
    ],
)
def test_undecodable_body_is_a_parse_error_passthrough(coding: str, data: bytes) -> None:
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, JSON, coding, data)
    assert prepared.passthrough == "parse_error"
    assert prepared.body is data


def test_signed_body_is_never_modified() -> None:
    path = "/model/us.anthropic.claude-opus-4-7/invoke"
    body = b'{"anthropic_version": "bedrock-2023-05-31", "messages": [], "temperature": 0.5}'
    prepared = PIPE.prepare(Dialect.BEDROCK, path, JSON, None, body, signed=True)
    assert (prepared.passthrough, prepared.family, prepared.changes) == ("signed_body", "claude-4-7", ())
    assert prepared.body is body
    unsigned = PIPE.prepare(Dialect.BEDROCK, path, JSON, None, body)
    assert b"temperature" not in unsigned.body


def test_is_signed() -> None:
    assert is_signed({"Authorization": "AWS4-HMAC-SHA256 Credential=AKIA.../bedrock/aws4_request, ..."})
    assert is_signed({}, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc")
    assert not is_signed({"Authorization": "Bearer bedrock-api-key-..."})
    assert not is_signed({})


def dry(prepared_pipeline: RequestPipeline, route: str | None = None, dry_run: bool = False) -> None:
    raw = orjson.dumps(LEGACY)
    prepared = prepared_pipeline.prepare(Dialect.OPENAI, CHAT, JSON, None, raw, dry_run, route=route)
    assert prepared.body is raw
    assert prepared.dry_run and prepared.changes and not prepared.modified


def test_dry_run_route_global_and_policy() -> None:
    dry(PIPE, dry_run=True)
    dry(pipeline(rules={"dry_run": True}))
    routes = [{"prefix": "/v1", "upstream": "http://u", "dialect": "openai", "name": "main"}]
    by_route = pipeline(routes=routes, rules={"policies": [{"route": "main", "dry_run": True}]})
    dry(by_route, route="main")
    assert not by_route.prepare(Dialect.OPENAI, CHAT, JSON, None, orjson.dumps(LEGACY), route="other").dry_run
    dry(pipeline(rules={"policies": [{"family": "openai-o-series", "dry_run": True}]}))


def test_dry_run_without_changes_is_not_flagged() -> None:
    prepared = PIPE.prepare(Dialect.OPENAI, CHAT, JSON, None, b'{"model": "gpt-4o"}', True)
    assert not prepared.dry_run


def test_policy_disables_rules_per_family() -> None:
    pipe = pipeline(
        rules={"policies": [{"family": "openai-o-series", "disable": ["openai-temperature-default-only"]}]}
    )
    out = orjson.loads(pipe.prepare(Dialect.OPENAI, CHAT, JSON, None, orjson.dumps(LEGACY)).body)
    assert out["temperature"] == 0.2
    gpt5 = orjson.loads(
        pipe.prepare(Dialect.OPENAI, CHAT, JSON, None, orjson.dumps({**LEGACY, "model": "gpt-5"})).body
    )
    assert "temperature" not in gpt5


def test_policy_unknown_family_for_a_vllm_route() -> None:
    routes = [{"prefix": "/vllm", "upstream": "http://u", "dialect": "openai-compatible", "name": "vllm"}]
    pipe = pipeline(routes=routes, rules={"policies": [{"route": "vllm", "unknown_family": "vllm-legacy"}]})
    body = orjson.dumps({"model": "acme/served-model-32b", "messages": [], "max_completion_tokens": 64})
    prepared = pipe.prepare(
        Dialect.OPENAI_COMPATIBLE, "/vllm/v1/chat/completions", JSON, None, body, route="vllm"
    )
    assert prepared.family == "vllm-legacy"
    assert orjson.loads(prepared.body) == {"model": "acme/served-model-32b", "messages": [], "max_tokens": 64}
    other = pipe.prepare(Dialect.OPENAI_COMPATIBLE, "/x/v1/chat/completions", JSON, None, body, route="x")
    assert other.passthrough == "unknown_model"


@pytest.mark.parametrize(
    ("rules", "needle"),
    [
        ({"policies": [{"family": "gpt-7"}]}, "no family has the id 'gpt-7'"),
        ({"policies": [{"disable": ["nope"]}]}, "no rule has the id 'nope'"),
        ({"disable": ["nope"]}, "no rule has the id 'nope'"),
    ],
)
def test_bad_policy_references_fail_at_startup(rules: dict, needle: str) -> None:
    with pytest.raises(KnowledgeError, match=needle):
        pipeline(rules=rules)
