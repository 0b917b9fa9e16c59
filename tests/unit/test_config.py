from pathlib import Path

import pytest

from sidecar.config import DEFAULT_ROUTES, ConfigError, load_config, parse_host_port, redacted


def test_no_file_gives_working_defaults():
    config = load_config(None, env={})
    assert config.listen.proxy == "127.0.0.1:8080"
    assert config.listen.admin == "127.0.0.1:9090"
    assert config.limits.max_body_bytes == 32 * 1024 * 1024
    assert config.shutdown.drain_seconds == 20
    assert [(r.prefix, r.upstream, r.dialect.value, r.strip_prefix) for r in config.routes] == [
        ("/v1", "https://api.openai.com", "openai", False),
        ("/anthropic", "https://api.anthropic.com", "anthropic", True),
    ]
    assert tuple(config.routes) == DEFAULT_ROUTES


def test_empty_file_is_the_defaults(tmp_path: Path):
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(path, env={}) == load_config(None, env={})


def test_errors_name_file_line_field_and_expectation(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text(
        "listen:\n  proxy: nowhere\nroutes:\n  - prefix: /v1\n    upstream: ftp://x\n"
        "    dialect: openia\n    colour: blue\nlimits:\n  max_body_bytes: -1\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    errors = info.value.errors
    assert any(e.startswith(f"{path}:2: listen.proxy:") and "HOST:PORT" in e for e in errors)
    assert any(e.startswith(f"{path}:5: routes[0].upstream:") and "http" in e for e in errors)
    assert any(e.startswith(f"{path}:6: routes[0].dialect:") and "'openai'" in e for e in errors)
    assert any(e.startswith(f"{path}:7: routes[0].colour:") and "Extra inputs" in e for e in errors)
    assert any(e.startswith(f"{path}:9: limits.max_body_bytes:") for e in errors)


def test_yaml_syntax_error_names_the_line(tmp_path: Path):
    path = tmp_path / "broken.yaml"
    path.write_text("routes:\n  - prefix: /v1\n   upstream: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert info.value.errors[0].startswith(f"{path}:")
    assert "invalid YAML" in info.value.errors[0]


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.yaml", env={})


def test_duplicate_prefixes_rejected(tmp_path: Path):
    path = tmp_path / "dup.yaml"
    path.write_text(
        "routes:\n"
        "  - {prefix: /v1, upstream: 'http://a', dialect: openai}\n"
        "  - {prefix: /v1, upstream: 'http://b', dialect: openai}\n"
    )
    with pytest.raises(ConfigError, match="share the prefix"):
        load_config(path, env={})


def test_environment_overrides_without_a_file():
    config = load_config(
        None,
        env={
            "SIDECAR_LISTEN": "0.0.0.0:8000",
            "SIDECAR_ADMIN_LISTEN": "0.0.0.0:9000",
            "SIDECAR_UPSTREAM": "http://litellm:4000",
            "SIDECAR_DIALECT": "openai-compatible",
            "SIDECAR_LOG_LEVEL": "DEBUG",
            "SIDECAR_MAX_BODY_BYTES": "1000",
        },
    )
    assert config.listen.proxy == "0.0.0.0:8000"
    assert config.listen.admin == "0.0.0.0:9000"
    assert config.logging.level == "debug"
    assert config.limits.max_body_bytes == 1000
    (route,) = config.routes
    assert (route.prefix, route.upstream, route.dialect.value) == (
        "/",
        "http://litellm:4000",
        "openai-compatible",
    )


def test_bad_environment_override_is_reported_as_such():
    with pytest.raises(ConfigError) as info:
        load_config(None, env={"SIDECAR_LISTEN": "8080"})
    assert "listen.proxy" in info.value.errors[0]
    assert "SIDECAR_LISTEN" in info.value.errors[-1]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:9", ("::1", 9)), (":80", ("0.0.0.0", 80))],
)
def test_parse_host_port(text, expected):
    assert parse_host_port(text) == expected


def test_redaction_masks_secret_fields_and_url_credentials():
    dump = {"routes": [{"upstream": "https://user:pw@host/x"}], "headers": {"api_key": "sk-1"}, "ok": "v"}
    shown = redacted(dump)
    assert shown["headers"]["api_key"] == "<redacted>"
    assert "pw" not in shown["routes"][0]["upstream"]
    assert shown["ok"] == "v"
