"""Opaque keyset cursors: the sort key of the last item seen, so new comments never shift a page."""

from __future__ import annotations

import base64
import binascii
import json
import math

from civility.errors import Invalid

# A cursor holds ids, vote totals and scores: what a 64-bit column and a double can hold.
_INT64 = 2**63 - 1
# The largest id and the largest vote total a cursor may hold (the columns' own ranges).
ID_RANGE, VOTES_RANGE = _INT64, 2**31 - 1


def _storable_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -_INT64 <= value <= _INT64
    return isinstance(value, float) and math.isfinite(value)


def encode_cursor(kind: str, key: list) -> str:
    raw = json.dumps([kind, *key], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, kind: str, arity: int, whole: tuple[int, ...] | None = None) -> list | None:
    """The cursor's key, or None without a cursor. ``whole``: the key is made of whole numbers,
    each at most its bound in magnitude (a column's range), as every cursor this listing hands
    out is; anything else is refused here rather than by the database."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        value = None
    if (
        not isinstance(value, list)
        or len(value) != arity + 1
        or value[0] != kind
        or not all(_storable_number(v) for v in value[1:])
        or (whole is not None
            and not all(type(v) is int and abs(v) <= bound for v, bound in zip(value[1:], whole, strict=True)))
    ):
        raise Invalid("invalid cursor", {"cursor": ["not a cursor for this listing and sort"]})
    return value[1:]
