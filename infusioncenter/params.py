"""Whole numbers from request parameters (ids, versions, page sizes), parsed without surprises.

`str.isdigit()` is true for "²" or "١", which `int()` then refuses, and a 30-digit id overflows the
database's 64-bit integers (SQLite raises OverflowError), and `int()` refuses strings of more than
4,300 digits (CPython's limit): all were server errors on crafted input.
"""

from __future__ import annotations

#: the largest value a 64-bit signed integer column holds (PostgreSQL bigint, SQLite INTEGER)
MAX_DATABASE_INT = 2**63 - 1
_MAX_DIGITS = len(str(MAX_DATABASE_INT))


def parse_whole_number(raw: object) -> int | None:
    """`raw` as a non-negative int when it is ASCII digits only and fits the database; else None."""
    text = str(raw or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > _MAX_DIGITS:
        return None
    value = int(text)
    return value if value <= MAX_DATABASE_INT else None
