import pytest

from sidecar.config import RouteConfig
from sidecar.routing import Router


def _router() -> Router:
    return Router(
        [
            RouteConfig(prefix="/v1", upstream="https://api.openai.com", dialect="openai"),
            RouteConfig(
                prefix="/v1/special", upstream="http://10.0.0.1:4000/api", dialect="openai-compatible"
            ),
            RouteConfig(
                prefix="/anthropic",
                upstream="https://api.anthropic.com",
                dialect="anthropic",
                strip_prefix=True,
            ),
        ]
    )


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/v1", "v1"),
        ("/v1/chat/completions", "v1"),
        ("/v1/special/x", "v1_special"),  # longest prefix wins
        ("/v10/models", None),  # whole segments only
        ("/anthropic/v1/messages", "anthropic"),
        ("/anthropicx", None),
        ("http://evil/v1", None),
        ("", None),
    ],
)
def test_longest_whole_segment_prefix_wins(path, route):
    match = _router().match(path)
    assert (match.name if match else None) == route


def test_upstream_url_keeps_encoding_strips_prefix_and_joins_base_path():
    router = _router()
    anthropic = router.by_name["anthropic"]
    assert str(anthropic.upstream_url("/anthropic/v1/messages", "beta=true")) == (
        "https://api.anthropic.com/v1/messages?beta=true"
    )
    assert str(anthropic.upstream_url("/anthropic", "")) == "https://api.anthropic.com/"
    special = router.by_name["v1_special"]
    assert str(special.upstream_url("/v1/special/a%2Fb", "q=%7E&q=2")) == (
        "http://10.0.0.1:4000/api/v1/special/a%2Fb?q=%7E&q=2"
    )


def test_catch_all_route():
    router = Router([RouteConfig(prefix="/", upstream="http://u", dialect="openai")])
    assert router.match("/anything/at/all") is not None
    assert router.match("/").upstream_url("/x", "") is not None
