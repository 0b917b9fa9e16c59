"""Provider errors as data, and the exact JSON shape each provider wraps them in.

A check returns a `ProviderError`; the flavour serving the request decides how it looks on the
wire, so one rule (say "budget below 1024") can be answered in Anthropic's shape on `/v1/messages`
and wrapped the way a LiteLLM proxy wraps it on a chat-completions route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "ProviderError",
    "anthropic_error_body",
    "azure_error_body",
    "litellm_error_body",
    "openai_error_body",
]


@dataclass(frozen=True, slots=True)
class ProviderError:
    """A rejection: HTTP status plus the fields the provider's error object carries."""

    message: str
    param: str | None = None
    code: str | None = None
    status: int = 400
    type: str = "invalid_request_error"


def openai_error_body(err: ProviderError) -> dict[str, Any]:
    """OpenAI (and DeepSeek, vLLM): `{"error": {message, type, param, code}}` (§1.1)."""
    return {"error": {"message": err.message, "type": err.type, "param": err.param, "code": err.code}}


def azure_error_body(err: ProviderError) -> dict[str, Any]:
    """Azure OpenAI: parameter errors come back in OpenAI's shape (§1.3, e.g. vscode#253673);
    resource-level errors (unknown deployment, bad key) carry only a code and a message."""
    if err.type == "azure_resource_error":
        return {"error": {"code": err.code, "message": err.message}}
    return openai_error_body(err)


def anthropic_error_body(err: ProviderError) -> dict[str, Any]:
    """Anthropic: `{"type": "error", "error": {"type", "message"}}` (§1.4)."""
    return {"type": "error", "error": {"type": err.type, "message": err.message}}


def litellm_error_body(err: ProviderError) -> dict[str, Any]:
    """A LiteLLM proxy's `ProxyException.to_dict()`: type/param are often the string "None" and
    `code` is the HTTP status as a string (§1.12)."""
    return {
        "error": {
            "message": err.message,
            "type": err.type,
            "param": err.param if err.param is not None else "None",
            "code": str(err.status),
        }
    }
