"""Header hygiene for a reverse proxy: what crosses the proxy and what stays on each hop."""

from __future__ import annotations

from collections.abc import Iterable

from multidict import CIMultiDict, CIMultiDictProxy

__all__ = [
    "HOP_BY_HOP",
    "REQUEST_DROPPED",
    "SECRET_HEADERS",
    "forwardable",
]

# RFC 9110 §7.6.1: Connection and the fields it names are for one hop only; Proxy-Connection,
# Keep-Alive, TE, Transfer-Encoding and Upgrade are listed there as hop-by-hop too. Proxy-Authenticate
# and Proxy-Authorization (RFC 9110 §11.7) address this proxy, not the origin, so they never cross.
# A frozenset, tested field by field: a missing comma in a tuple of strings merges two names.
HOP_BY_HOP: frozenset[str] = frozenset(
    {
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)

# Request fields the proxy recomputes for the upstream hop: Host comes from the route's upstream
# URL, Content-Length from the body actually sent, and Expect was answered by this proxy already.
REQUEST_DROPPED: frozenset[str] = HOP_BY_HOP | {"host", "content-length", "expect"}

# Credentials: forwarded to the upstream untouched, never logged, labelled or shown.
SECRET_HEADERS: frozenset[str] = frozenset(
    {"authorization", "api-key", "x-api-key", "x-amz-security-token", "cookie", "set-cookie"}
)


def _connection_tokens(headers: CIMultiDictProxy[str] | CIMultiDict[str]) -> frozenset[str]:
    values = headers.getall("connection", ())
    if not values:
        return frozenset()
    return frozenset(t.strip().lower() for v in values for t in v.split(",") if t.strip())


def forwardable(
    headers: CIMultiDictProxy[str] | CIMultiDict[str], dropped: frozenset[str]
) -> Iterable[tuple[str, str]]:
    """The (name, value) pairs to send on the next hop, in their original order.

    Drops `dropped` plus every field named in this message's own `Connection` header.
    """
    named = _connection_tokens(headers)
    for name, value in headers.items():
        lower = name.lower()
        if lower in dropped or lower in named:
            continue
        yield name, value
