"""Bounded decoding of Content-Encoded request bodies (gzip, deflate, br, zstd).

The decoded size is capped at the body limit: a body that would inflate past it (a compression
bomb) raises `TooLarge` after at most `limit + 1` bytes of output, so memory stays bounded. The
caller then forwards the original bytes untouched (see `pipeline.py`).
"""

from __future__ import annotations

import zlib

import brotli
import zstandard

__all__ = ["MAX_ENCODINGS", "BadEncoding", "TooLarge", "decode_body"]

MAX_ENCODINGS = 3  # "gzip, br" is legal; a long stack of codings is not a real client


class TooLarge(Exception):
    """The decoded body would exceed the limit."""


class BadEncoding(Exception):
    """An unknown coding, or bytes that do not decode."""


def decode_body(data: bytes, content_encoding: str, limit: int) -> bytes:
    """Undo every coding in `content_encoding` (applied in order, so undone in reverse)."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    if len(codings) > MAX_ENCODINGS:
        raise BadEncoding(f"{len(codings)} content codings")
    for coding in reversed(codings):
        data = _decode_one(coding, data, limit)
    return data


def _decode_one(coding: str, data: bytes, limit: int) -> bytes:
    if coding == "identity":
        return data
    if coding in ("gzip", "x-gzip"):
        return _zlib(data, 16 + zlib.MAX_WBITS, limit)
    if coding == "deflate":
        # RFC 9110 says zlib-wrapped; some clients send raw deflate. Accept both.
        try:
            return _zlib(data, zlib.MAX_WBITS, limit)
        except BadEncoding:
            return _zlib(data, -zlib.MAX_WBITS, limit)
    if coding == "br":
        return _brotli(data, limit)
    if coding == "zstd":
        return _zstd(data, limit)
    raise BadEncoding(f"unsupported content coding {coding!r}")


def _zlib(data: bytes, wbits: int, limit: int) -> bytes:
    out = bytearray()
    rest = data
    try:
        while rest:  # gzip allows several members back to back
            decoder = zlib.decompressobj(wbits)
            out += decoder.decompress(rest, limit + 1 - len(out))
            if len(out) > limit or decoder.unconsumed_tail:
                raise TooLarge
            if not decoder.eof:
                raise BadEncoding("truncated stream")
            rest = decoder.unused_data if wbits > zlib.MAX_WBITS else b""
    except zlib.error as exc:
        raise BadEncoding(str(exc)) from exc
    return bytes(out)


def _brotli(data: bytes, limit: int) -> bytes:
    decoder = brotli.Decompressor()
    try:
        out = bytearray(decoder.process(data, output_buffer_limit=limit + 1))
        while len(out) <= limit and not decoder.is_finished():
            more = decoder.process(b"", output_buffer_limit=limit + 1 - len(out))
            if not more:
                raise BadEncoding("truncated stream")
            out += more
    except brotli.error as exc:
        raise BadEncoding(str(exc)) from exc
    if len(out) > limit:
        raise TooLarge
    return bytes(out)


def _zstd(data: bytes, limit: int) -> bytes:
    out = bytearray()
    try:
        with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as reader:
            while len(out) <= limit:
                chunk = reader.read(min(1 << 16, limit + 1 - len(out)))
                if not chunk:
                    break
                out += chunk
    except zstandard.ZstdError as exc:
        raise BadEncoding(str(exc)) from exc
    if len(out) > limit:
        raise TooLarge
    return bytes(out)
