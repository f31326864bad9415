"""Cell text <-> Python values for the codebook tables (docs/contracts.md section 1).

The seed, the CSV import/export and ``codebook_tables()`` all speak the same canonical cell text:

* booleans ``true`` / ``false``;
* decimals without trailing zeros and without exponent (``10``, ``0.5``, ``1.25``): the database
  hands back ``Decimal("10.000")`` and we render it as the seed wrote it;
* integers in plain decimal notation;
* dates ISO ``YYYY-MM-DD``;
* lists inside a cell separated by ``|``, in the order given;
* the empty cell is "no value" (``None`` for numbers and dates, ``""`` for text).

No Django import here: this module is plain conversion, used by models, services and selectors.
"""

from __future__ import annotations

import datetime
import decimal
from typing import Any

TRUE = "true"
FALSE = "false"


class CellError(ValueError):
    """A cell's text cannot be converted; the message says what was expected."""


def decimal_text(value: decimal.Decimal) -> str:
    """Canonical decimal text: ``Decimal("10.000")`` -> ``"10"``, ``Decimal("0.50")`` -> ``"0.5"``."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def to_cell(value: Any, kind: str) -> str:
    """Render one field value as its canonical cell text."""
    if value is None:
        return ""
    if kind == "bool":
        return TRUE if value else FALSE
    if kind == "decimal":
        return decimal_text(decimal.Decimal(value))
    if kind == "int":
        return str(int(value))
    if kind == "date":
        return value.isoformat()
    return str(value)


def from_cell(text: str, kind: str, *, required: bool) -> Any:
    """Parse one cell's text into a field value; raises CellError with a short reason."""
    text = text.strip()
    if text == "":
        if required:
            raise CellError("a value is required")
        return "" if kind == "text" else None
    if kind == "text":
        return text
    if kind == "bool":
        if text == TRUE:
            return True
        if text == FALSE:
            return False
        raise CellError(f"expected true or false, got {text!r}")
    if kind == "int":
        try:
            number = int(text)
        except ValueError:
            raise CellError(f"expected a whole number, got {text!r}") from None
        if number < 0:
            raise CellError(f"expected a number of 0 or more, got {text!r}")
        return number
    if kind == "decimal":
        try:
            number = decimal.Decimal(text)
        except decimal.InvalidOperation:
            raise CellError(f"expected a decimal number, got {text!r}") from None
        if not number.is_finite():
            raise CellError(f"expected a decimal number, got {text!r}")
        if number < 0:
            raise CellError(f"expected an amount of 0 or more, got {text!r}")
        return number
    if kind == "date":
        try:
            return datetime.date.fromisoformat(text)
        except ValueError:
            raise CellError(f"expected an ISO date YYYY-MM-DD, got {text!r}") from None
    raise CellError(f"unknown cell kind {kind!r}")  # pragma: no cover - programming error


def split_list(text: str) -> list[str]:
    """``"a|b"`` -> ``["a", "b"]``; the empty cell is the empty list."""
    return [item.strip() for item in text.split("|")] if text.strip() else []


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(text: str) -> str:
    """CSV export (security.md REL-05): a cell a spreadsheet would run as a formula gets a leading quote."""
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def unneutralize_formula(text: str) -> str:
    """CSV import: undo :func:`neutralize_formula` so an exported file imports back unchanged."""
    if text.startswith("'") and text[1:2] and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text
