"""The daily charge report row, its columns and its totals (issue 6 item 1). Pure Python.

One row per charge line. A row is a plain dict keyed by `COLUMNS[i].key`. Credits keep their
stored positive units and amount on the line (INT-01: the sign comes from the transaction type);
in the report the `units` and `amount` columns are *signed* (a credit is negative) and the
`transaction` column says which it is, so a spreadsheet sum nets a credit against its charge and
the report totals equal the sum of the rows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

ReportRow = dict[str, Any]

TEXT = "text"
INT = "int"
DECIMAL = "decimal"
DATE = "date"

CHARGE = "charge"
CREDIT = "credit"


@dataclass(frozen=True, slots=True)
class Column:
    key: str
    header: str
    kind: str


COLUMNS: tuple[Column, ...] = (
    Column("service_date", "Date of service", DATE),
    Column("mrn", "MRN", TEXT),
    Column("patient_name", "Patient name", TEXT),
    Column("visit_number", "Visit number", TEXT),
    Column("encounter", "Encounter", INT),
    Column("setting", "Setting", TEXT),
    Column("payer", "Payer", TEXT),
    Column("code", "Code", TEXT),
    Column("units", "Units", INT),
    Column("modifiers", "Modifiers", TEXT),
    Column("revenue_code", "Revenue code", TEXT),
    Column("transaction", "Transaction", TEXT),
    Column("amount", "Amount", DECIMAL),
    Column("diagnoses", "Diagnoses", TEXT),
    Column("status", "Status", TEXT),
    Column("batch", "Batch", INT),
    Column("approved_by", "Approved by", TEXT),
    Column("line", "Line", INT),
)

HEADERS: tuple[str, ...] = tuple(column.header for column in COLUMNS)


def signed(transaction: str, value: int | Decimal | None) -> int | Decimal | None:
    """The report value of a stored (positive) units or amount: negative for a credit."""
    if value is None:
        return None
    return -value if transaction == CREDIT else value


@dataclass(slots=True)
class Total:
    key: str
    lines: int = 0
    units: int = 0
    amount: Decimal = Decimal("0.00")

    def add(self, row: ReportRow) -> None:
        self.lines += 1
        self.units += int(row.get("units") or 0)
        self.amount += Decimal(row.get("amount") or 0)


@dataclass(slots=True)
class Totals:
    """Totals per code, per payer and overall, accumulated row by row (constant memory per key)."""

    by_code: dict[str, Total]
    by_payer: dict[str, Total]
    overall: Total

    @classmethod
    def empty(cls) -> Totals:
        return cls(by_code={}, by_payer={}, overall=Total(key="All"))

    def add(self, row: ReportRow) -> None:
        code = str(row.get("code") or "")
        payer = str(row.get("payer") or "")
        self.by_code.setdefault(code, Total(key=code)).add(row)
        self.by_payer.setdefault(payer, Total(key=payer)).add(row)
        self.overall.add(row)

    def codes(self) -> list[Total]:
        return [self.by_code[key] for key in sorted(self.by_code)]

    def payers(self) -> list[Total]:
        return [self.by_payer[key] for key in sorted(self.by_payer)]


def totals_of(rows: Iterable[ReportRow]) -> Totals:
    totals = Totals.empty()
    for row in rows:
        totals.add(row)
    return totals


def iso(value: Any) -> str:
    """Dates and datetimes as ISO 8601 (files); everything else as text."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value)
