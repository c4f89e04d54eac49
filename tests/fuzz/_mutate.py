"""Mutations of valid inputs, drawn by hypothesis and applied deterministically (so they shrink well).

``text_ops()`` / ``byte_ops()`` draw a short list of operations; ``apply_text``
/ ``apply_bytes`` apply them: overwrite, insert, delete, truncate, duplicate a
span, flip a bit (bytes), with payloads biased towards what parsers trip on
(signs, exponents, separators, NaN/inf words, long digit runs, NUL, BOM,
line breaks).
"""
from __future__ import annotations

from hypothesis import strategies as st

_WORDS = ["", "-", "+", ".", "e", "E", "-0", "nan", "NaN", "inf", "-inf", "Infinity", "1e999", "-1e999", "9" * 40,
          "0" * 20, "\x00", "\ufeff", "\u2028", "\r", "\n", "\r\n", "\t", " ", "#", "=", ",", ";", ":", '"', "'",
          "<", ">", "&", "[", "]", "{", "}", "[[", "]]", "\\", "\\u0000", "é", "\U0001f6f0", "null", "true",
          "<!DOCTYPE x [<!ENTITY a 'b'>]>", "[" * 64, "{" * 64]
PAYLOAD_TEXT = st.one_of(st.sampled_from(_WORDS), st.text(max_size=12),
                         st.text(alphabet="0123456789+-. eE", max_size=12))
PAYLOAD_BYTES = st.one_of(st.binary(max_size=12), st.sampled_from([b"\x00", b"\xff" * 4, b"\x80", b"\xc0", b"\xdb",
                                                                    b"\xc0\xdb", b"\x7f", b"\r\n"]))
KINDS = ("overwrite", "insert", "delete", "truncate", "duplicate", "flip")


def text_ops(max_ops: int = 6):
    return st.lists(st.tuples(st.sampled_from(KINDS[:5]), st.floats(0, 1), st.integers(0, 24), PAYLOAD_TEXT),
                    max_size=max_ops)


def byte_ops(max_ops: int = 6):
    return st.lists(st.tuples(st.sampled_from(KINDS), st.floats(0, 1), st.integers(0, 64), PAYLOAD_BYTES),
                    max_size=max_ops)


def _apply(seq, ops, flip=None):
    for kind, frac, n, payload in ops:
        pos = min(len(seq), int(frac * (len(seq) + 1)))
        if kind == "overwrite":
            seq = seq[:pos] + payload + seq[pos + len(payload):]
        elif kind == "insert":
            seq = seq[:pos] + payload + seq[pos:]
        elif kind == "delete":
            seq = seq[:pos] + seq[pos + n:]
        elif kind == "truncate":
            seq = seq[:pos]
        elif kind == "duplicate":
            seq = seq[:pos + n] + seq[pos:pos + n] + seq[pos + n:]
        elif kind == "flip" and flip is not None and seq:
            seq = flip(seq, min(pos, len(seq) - 1), n % 8)
    return seq


def apply_text(text: str, ops) -> str:
    return _apply(text, ops)


def _flip(b: bytes, i: int, bit: int) -> bytes:
    return b[:i] + bytes((b[i] ^ (1 << bit),)) + b[i + 1:]


def apply_bytes(data: bytes, ops) -> bytes:
    return _apply(bytes(data), ops, _flip)
