"""Dose unit conversion (R19 of coding-rules.md): g->mg, mcg->mg, L->mL, with Decimal only.

A unit that does not convert is a `UnitMismatch`, shown to the nurse as a form message; it is
never guessed.
"""

from __future__ import annotations

from decimal import Decimal

#: Units a nurse may chart a dose in (engine-io.md `dose_unit`), with their labels.
DOSE_UNITS: list[tuple[str, str]] = [
    ("mg", "mg"),
    ("mcg", "mcg"),
    ("g", "g"),
    ("mL", "mL"),
    ("L", "L"),
    ("units", "units"),
    ("mEq", "mEq"),
]

# unit -> (dimension, factor to the dimension's base unit)
_FACTORS: dict[str, tuple[str, Decimal]] = {
    "mg": ("mass", Decimal("1")),
    "g": ("mass", Decimal("1000")),
    "mcg": ("mass", Decimal("0.001")),
    "mL": ("volume", Decimal("1")),
    "L": ("volume", Decimal("1000")),
    "units": ("units", Decimal("1")),
    "mEq": ("mEq", Decimal("1")),
    "dose": ("dose", Decimal("1")),
}

_ALIASES = {
    "mg": "mg",
    "g": "g",
    "gm": "g",
    "gram": "g",
    "grams": "g",
    "mcg": "mcg",
    "ug": "mcg",
    "µg": "mcg",
    "ml": "mL",
    "cc": "mL",
    "l": "L",
    "unit": "units",
    "units": "units",
    "u": "units",
    "meq": "mEq",
    "dose": "dose",
}


class UnitMismatch(ValueError):
    """The dose unit cannot be converted to the billing unit."""


def normalize_unit(text: str) -> str | None:
    """The canonical spelling of a unit (`ML` -> `mL`), or None when unknown."""
    return _ALIASES.get((text or "").strip().lower())


def convertible(from_unit: str, to_unit: str) -> bool:
    a = _FACTORS.get(normalize_unit(from_unit) or "")
    b = _FACTORS.get(normalize_unit(to_unit) or "")
    return bool(a and b and a[0] == b[0])


def convert(amount: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """`amount` of `from_unit` expressed in `to_unit`; raises `UnitMismatch` when impossible."""
    if not isinstance(amount, Decimal):
        raise TypeError("amount must be a Decimal")
    src = normalize_unit(from_unit)
    dst = normalize_unit(to_unit)
    if src is None:
        raise UnitMismatch(f"Unknown dose unit {from_unit!r}.")
    if dst is None:
        raise UnitMismatch(f"Unknown billing unit {to_unit!r}.")
    a, b = _FACTORS[src], _FACTORS[dst]
    if a[0] != b[0]:
        raise UnitMismatch(f"A dose in {src} cannot be converted to {dst}, the unit this drug is billed in.")
    if src == dst:
        return amount
    return (amount * a[1] / b[1]).normalize()
