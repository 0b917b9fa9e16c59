"""The operator's configuration: pydantic models, defaults, YAML loading and environment overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from yarl import URL

from sidecar.yamlsource import SourceError, YamlDocument, format_validation_error, load_yaml

__all__ = [
    "DEFAULT_ROUTES",
    "ENV_OVERRIDES",
    "ConfigError",
    "Dialect",
    "PolicyConfig",
    "RouteConfig",
    "RulesConfig",
    "SidecarConfig",
    "load_config",
    "parse_host_port",
    "redacted",
]

MIB = 1024 * 1024


class ConfigError(SourceError):
    """The configuration could not be loaded; every line names its source and field."""


class Dialect(StrEnum):
    """The API shape a route speaks; it decides how bodies and model names are read."""

    OPENAI = "openai"
    AZURE = "azure"
    ANTHROPIC = "anthropic"
    BEDROCK = "bedrock"
    OPENAI_COMPATIBLE = "openai-compatible"


def parse_host_port(value: str) -> tuple[str, int]:
    """`"127.0.0.1:8080"`, `"[::1]:8080"` or `":8080"` -> (host, port)."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isdigit():
        raise ValueError(f"expected HOST:PORT, got {value!r}")
    port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port {port} is out of range 0-65535")
    host = host.strip("[]") or "0.0.0.0"
    return host, port


def _check_address(value: str) -> str:
    parse_host_port(value)
    return value


def _check_prefix(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("a route prefix must start with '/'")
    if value != "/" and value.endswith("/"):
        raise ValueError("a route prefix must not end with '/' (it matches whole path segments)")
    if "?" in value or "#" in value:
        raise ValueError("a route prefix is a path, without query or fragment")
    return value


def _check_upstream(value: str) -> str:
    url = URL(value)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("expected an absolute http:// or https:// URL")
    if url.query_string or url.fragment:
        raise ValueError("an upstream URL carries no query or fragment")
    return value.rstrip("/")


Address = Annotated[str, AfterValidator(_check_address)]
PathPrefix = Annotated[str, AfterValidator(_check_prefix)]
UpstreamURL = Annotated[str, AfterValidator(_check_upstream)]
Seconds = Annotated[float, Field(gt=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ListenConfig(_Model):
    """Where the sidecar listens: the app-facing proxy and the operator-facing admin port."""

    proxy: Address = "127.0.0.1:8080"
    admin: Address = "127.0.0.1:9090"


class RouteConfig(_Model):
    """A path prefix mapped to one upstream and the API dialect spoken there."""

    prefix: PathPrefix
    upstream: UpstreamURL
    dialect: Dialect
    name: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9_.-]{1,64}$")
    strip_prefix: bool = False
    dry_run: bool = False

    @property
    def label(self) -> str:
        """The route's name in metrics and logs: explicit, else derived from the prefix."""
        if self.name:
            return self.name
        return self.prefix.strip("/").replace("/", "_") or "root"


class UpstreamClientConfig(_Model):
    """The shared HTTP client that talks to every upstream."""

    connect_timeout_seconds: Seconds = 10.0
    # Longest silence tolerated while waiting for headers or the next body chunk. Reasoning models
    # can think for minutes before answering a non-streaming request.
    idle_read_timeout_seconds: Seconds = 600.0
    pool_max_connections: int = Field(default=256, ge=1)
    pool_max_per_host: int = Field(default=0, ge=0, description="0 means no per-host cap")
    keepalive_seconds: Seconds = 30.0
    ca_bundle: Path | None = None
    # Honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY for egress.
    trust_env: bool = True


class LimitsConfig(_Model):
    """Bounds on what a client may send."""

    max_body_bytes: int = Field(default=32 * MIB, ge=1)
    max_header_bytes: int = Field(default=16384, ge=1024)


class ShutdownConfig(_Model):
    """Graceful drain: how long in-flight requests may run after SIGTERM."""

    drain_seconds: float = Field(default=20.0, ge=0)


class ReloadConfig(_Model):
    """Hot reload of this file. A Kubernetes ConfigMap mount changes by an atomic symlink swap that
    inotify on the file misses, so the file is polled (stat + content hash): cheap and portable."""

    watch: bool = True
    poll_interval_seconds: Seconds = 2.0


LogLevel = Literal["debug", "info", "warning", "error"]


class LoggingConfig(_Model):
    level: LogLevel = "info"
    access_log: bool = True
    # Per-logger levels, e.g. {sidecar.rewrite: debug} for one line per rewrite decision.
    loggers: dict[str, LogLevel] = Field(default_factory=dict)


class MetricsConfig(_Model):
    """Prometheus label policy. Labels take values from bounded sets only (see sidecar/metrics.py)."""

    # Model names that get their own `model` label value on sidecar_requests_total and
    # sidecar_rewrites_total (exact match on the request's model); every other model is `other`.
    model_labels: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=list, max_length=200
    )


class DebugConfig(_Model):
    # Adds `x-sidecar-rewrites` (and overhead) to responses. Off by default: it reveals internals.
    response_headers: bool = False


RuleId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,79}$")]


# How a model takes reasoning intent (sidecar/rewrite/thinking.py `Style`); shared by the rule packs'
# capabilities and the operator's thinking policies.
ReasoningStyle = Literal[
    "none",
    "openai_effort",
    "anthropic_budget",
    "anthropic_adaptive",
    "anthropic_adaptive_only",
    "gemini_budget",
    "gemini_level",
    "vllm_enable_thinking",
    "vllm_thinking",
    "openrouter",
    "deepseek",
]


class ThinkingPolicyConfig(_Model):
    """What to do with reasoning fields (sidecar/rewrite/thinking.py)."""

    # translate: write the client's intent in the target's own dialect (default).
    # inject: turn thinking on when the client did not ask (with `effort` or `budget`).
    # strip: remove every reasoning field (upstreams that reject them).
    # passthrough: touch nothing.
    mode: Literal["translate", "inject", "strip", "passthrough"] = "translate"
    effort: Literal["minimal", "low", "medium", "high", "xhigh", "max"] | None = None
    budget: int | None = Field(default=None, ge=1)
    # Write reasoning the way this upstream takes it regardless of the model: e.g. `openrouter`
    # (reasoning object), `gemini_budget`/`gemini_level` (native Gemini API), `vllm_thinking`.
    style: ReasoningStyle | None = None

    @model_validator(mode="after")
    def _inject_needs_amount(self) -> ThinkingPolicyConfig:
        if self.mode == "inject" and self.effort is None and self.budget is None:
            raise ValueError("mode inject needs `effort` or `budget`")
        return self


class PolicyConfig(_Model):
    """Rule choices for the requests a selector picks (route and/or target model family; an
    omitted selector matches everything). Every matching policy applies."""

    route: str | None = None
    family: str | None = None
    # The target model as the request names it or as an alias maps it (exact, case-insensitive).
    model: str | None = None
    # Rule ids not applied to these requests.
    disable: list[RuleId] = Field(default_factory=list)
    # Record the changes (logs, metrics, explain) but forward the original body.
    dry_run: bool = False
    # Reasoning fields for these requests; later matching policies override earlier ones field by
    # field, so put broad policies (route) before narrow ones (family, model).
    thinking: ThinkingPolicyConfig | None = None
    # Treat models no family matches as this family (e.g. `vllm-legacy` for a vLLM route, whose
    # served model names are arbitrary). Only with a `route` selector and no `family`.
    unknown_family: str | None = None

    @model_validator(mode="after")
    def _unknown_family_scope(self) -> PolicyConfig:
        if self.unknown_family is not None and (self.route is None or self.family is not None):
            raise ValueError("unknown_family needs a route selector and no family selector")
        return self


class RulesConfig(_Model):
    """The rewrite engine's knowledge and how it is applied."""

    # Shadow mode everywhere: compute and record changes, forward every body unchanged.
    dry_run: bool = False
    # Operator rule packs (same YAML format as sidecar/knowledge/*.yaml), loaded after the built-in
    # ones: a family or rule with a built-in id replaces it. Relative paths are relative to the
    # config file.
    packs: list[Path] = Field(default_factory=list)
    # Rule ids switched off everywhere (built-in or from a pack).
    disable: list[RuleId] = Field(default_factory=list)
    policies: list[PolicyConfig] = Field(default_factory=list)
    # Overrides of the reasoning translation tables (sidecar/knowledge/tables/thinking.yaml), merged
    # key by key over the shipped ones, e.g. {effort_to_budget: {high: 8000}}.
    thinking_tables: dict[str, Any] = Field(default_factory=dict)


DEFAULT_ROUTES: tuple[RouteConfig, ...] = (
    RouteConfig(prefix="/v1", upstream="https://api.openai.com", dialect=Dialect.OPENAI, name="openai"),
    RouteConfig(
        prefix="/anthropic",
        upstream="https://api.anthropic.com",
        dialect=Dialect.ANTHROPIC,
        strip_prefix=True,
        name="anthropic",
    ),
)


class SidecarConfig(_Model):
    """The whole operator file. Every section is optional; an empty file is a working config."""

    listen: ListenConfig = ListenConfig()
    routes: list[RouteConfig] = Field(default_factory=lambda: list(DEFAULT_ROUTES), min_length=1)
    upstream: UpstreamClientConfig = UpstreamClientConfig()
    limits: LimitsConfig = LimitsConfig()
    shutdown: ShutdownConfig = ShutdownConfig()
    reload: ReloadConfig = ReloadConfig()
    logging: LoggingConfig = LoggingConfig()
    debug: DebugConfig = DebugConfig()
    metrics: MetricsConfig = MetricsConfig()
    # Operator names (Azure deployments, proxy model names, ...) -> the canonical model they serve.
    aliases: dict[str, str] = Field(default_factory=dict)
    rules: RulesConfig = RulesConfig()

    @model_validator(mode="after")
    def _unique_routes(self) -> SidecarConfig:
        seen_prefix: set[str] = set()
        seen_label: set[str] = set()
        for route in self.routes:
            if route.prefix in seen_prefix:
                raise ValueError(f"two routes share the prefix {route.prefix!r}")
            if route.label in seen_label:
                raise ValueError(f"two routes share the name {route.label!r}; set `name:` on one")
            seen_prefix.add(route.prefix)
            seen_label.add(route.label)
        for policy in self.rules.policies:
            if policy.route is not None and policy.route not in seen_label:
                raise ValueError(f"rules.policies: no route is named {policy.route!r}")
        return self


# Environment variables that override config fields, so `docker run -e ...` works without a file.
ENV_OVERRIDES: dict[str, str] = {
    "SIDECAR_LISTEN": "listen.proxy",
    "SIDECAR_ADMIN_LISTEN": "listen.admin",
    "SIDECAR_LOG_LEVEL": "logging.level",
    "SIDECAR_MAX_BODY_BYTES": "limits.max_body_bytes",
    "SIDECAR_DRAIN_SECONDS": "shutdown.drain_seconds",
    "SIDECAR_CA_BUNDLE": "upstream.ca_bundle",
}
# SIDECAR_UPSTREAM (+ SIDECAR_DIALECT, SIDECAR_ROUTE_PREFIX, SIDECAR_STRIP_PREFIX) replace all routes
# with one route; handled separately because it builds a list entry rather than setting a field.


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    data = dict(raw)
    for var, dotted in ENV_OVERRIDES.items():
        if var not in env:
            continue
        section, field = dotted.split(".")
        data[section] = {
            **(data.get(section) or {}),
            field: env[var].lower() if var == "SIDECAR_LOG_LEVEL" else env[var],
        }
    if env.get("SIDECAR_UPSTREAM"):
        data["routes"] = [
            {
                "prefix": env.get("SIDECAR_ROUTE_PREFIX", "/"),
                "upstream": env["SIDECAR_UPSTREAM"],
                "dialect": env.get("SIDECAR_DIALECT", Dialect.OPENAI.value),
                "strip_prefix": env.get("SIDECAR_STRIP_PREFIX", "false").lower() in ("1", "true", "yes"),
                "name": "default",
            }
        ]
    return data


def load_config(path: Path | None = None, env: Mapping[str, str] | None = None) -> SidecarConfig:
    """Load `path` (or the built-in defaults when None), apply env overrides, validate.

    Raises ConfigError whose lines name the file, line, field path and what was expected.
    """
    environ = os.environ if env is None else env
    doc: YamlDocument | None = None
    source = "<defaults>"
    raw: Any = {}
    if path is not None:
        try:
            doc = load_yaml(path)
        except SourceError as exc:
            raise ConfigError(exc.errors) from exc
        source = doc.source
        raw = doc.data if doc.data is not None else {}
        if not isinstance(raw, dict):
            raise ConfigError([f"{source}:1: (top level): expected a mapping of sections"])
    overridden = [var for var in (*ENV_OVERRIDES, "SIDECAR_UPSTREAM") if environ.get(var)]
    try:
        config = SidecarConfig.model_validate(_apply_env(raw, environ))
    except ValidationError as exc:
        lines = format_validation_error(exc, doc, source)
        if overridden:
            lines.append(f"(environment overrides in effect: {', '.join(overridden)})")
        raise ConfigError(lines) from exc
    if path is not None and config.rules.packs:
        packs = [p if p.is_absolute() else path.parent / p for p in config.rules.packs]
        config = config.model_copy(update={"rules": config.rules.model_copy(update={"packs": packs})})
    return config


_SECRET_WORDS = ("key", "token", "secret", "password", "authorization", "credential")


def redacted(value: Any, key: str = "") -> Any:
    """A copy of a config dump safe to show: secret-looking fields and URL credentials masked."""
    if isinstance(value, dict):
        return {k: redacted(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v, key) for v in value]
    if isinstance(value, str):
        if any(word in key.lower() for word in _SECRET_WORDS):
            return "<redacted>"
        if "://" in value and "@" in value:
            url = URL(value)
            if url.user or url.password:
                return str(url.with_user(None).with_password(None)).replace("://", "://<redacted>@", 1)
    return value
