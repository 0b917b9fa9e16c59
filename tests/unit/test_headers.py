from multidict import CIMultiDict

from sidecar.headers import HOP_BY_HOP, REQUEST_DROPPED, forwardable


def test_hop_by_hop_set_is_exactly_rfc_9110_plus_proxy_auth():
    # Field by field: a missing comma in a tuple literal would merge two names silently.
    assert {
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    } == HOP_BY_HOP
    assert {"host", "content-length", "expect"} <= REQUEST_DROPPED


def test_fields_named_in_connection_are_dropped_order_and_repeats_kept():
    headers = CIMultiDict(
        [
            ("Connection", "close, X-Custom"),
            ("X-Custom", "a"),
            ("Accept", "1"),
            ("Authorization", "Bearer k"),
            ("Accept", "2"),
            ("Host", "evil"),
            ("Transfer-Encoding", "chunked"),
        ]
    )
    assert list(forwardable(headers, REQUEST_DROPPED).items()) == [
        ("Accept", "1"),
        ("Authorization", "Bearer k"),
        ("Accept", "2"),
    ]


def test_connection_tokens_are_case_insensitive_and_headers_without_connection_pass_whole():
    headers = CIMultiDict([("connection", " X-A ,x-b"), ("x-a", "1"), ("X-B", "2"), ("X-C", "3")])
    assert list(forwardable(headers, HOP_BY_HOP).items()) == [("X-C", "3")]
    plain = CIMultiDict([("Content-Type", "application/json"), ("X-Trace", "t")])
    assert list(forwardable(plain, REQUEST_DROPPED).items()) == list(plain.items())
