"""Model rows <-> seed cells: the one place that knows how a column maps to a field.

``row_cells(row)`` renders a saved row as the canonical cell text of its seed table (what
``read_tables`` returns for the same data); ``cells_to_values(model, cells)`` parses one seed/CSV
row into field values, raising :class:`ColumnError` naming the column.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from typing import Any

from codebook.cells import CellError, from_cell, to_cell
from codebook.models import EffectiveDated, Payer


class ColumnError(ValueError):
    """A cell of one row cannot be used; ``column`` names it."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.message = message


def row_cells(row: EffectiveDated) -> dict[str, str]:
    """The row as ``{column: canonical cell text}``, exactly the shape of one ``read_tables`` row."""
    cells = {}
    for column in row.COLUMNS:
        if column.kind == "payer":
            cells[column.name] = row.payer.key if row.payer_id else ""
        else:
            cells[column.name] = to_cell(getattr(row, column.field), column.kind)
    return cells


def field_names(model: type[EffectiveDated]) -> list[str]:
    return [column.field for column in model.COLUMNS]


PayerResolver = Callable[[str, datetime.date | None], Payer | None]


def payer_for_key(key: str, day: datetime.date | None) -> Payer | None:
    """The version of payer ``key`` in force on ``day`` (else its latest version); None if unknown."""
    versions = Payer.objects.filter(key=key)
    if day is not None:
        in_force = versions.in_force(day).first()
        if in_force is not None:
            return in_force
    return versions.order_by("-valid_from").first()


def cells_to_values(
    model: type[EffectiveDated],
    cells: Mapping[str, Any],
    *,
    resolve_payer: PayerResolver = payer_for_key,
) -> dict[str, Any]:
    """Parse one row of cell text into ``{field: value}``; raises ColumnError on the first bad cell."""
    values: dict[str, Any] = {}
    for column in model.COLUMNS:
        text = cells.get(column.name)
        if text is None:
            raise ColumnError(column.name, "the cell is missing")
        if not isinstance(text, str):
            raise ColumnError(column.name, "the cell is not text")
        kind = "text" if column.kind == "payer" else column.kind
        try:
            value = from_cell(text, kind, required=column.required)
        except CellError as error:
            raise ColumnError(column.name, str(error)) from None
        values[column.field] = value
    for column in model.COLUMNS:
        if column.kind == "payer":
            payer = resolve_payer(values[column.field], values.get("valid_from"))
            if payer is None:
                raise ColumnError(column.name, f"no payer with key {values[column.field]!r} in the codebook")
            values[column.field] = payer
    return values


def key_from_values(model: type[EffectiveDated], values: Mapping[str, Any]) -> tuple:
    """The key tuple of parsed values (a payer instance is named by its key)."""
    return tuple(values[name].key if name == "payer" else values[name] for name in model.KEY)


def key_from_cells(model: type[EffectiveDated], cells: Mapping[str, str]) -> tuple:
    """The key tuple straight from cell text (payers are already named by key in the cells)."""
    by_field = {column.field: column for column in model.COLUMNS}
    return tuple(cells.get(by_field[name].name, "").strip() for name in model.KEY)


def key_of_row(row: EffectiveDated) -> tuple:
    """The key tuple of a saved row, comparable with key_from_values / key_from_cells."""
    return row.key_values()
