"""CSV of the daily charge report, safe against spreadsheet formula injection (REL-05).

A text cell that a spreadsheet would read as a formula (beginning with `=`, `+`, `-`, `@`, a tab
or a carriage return) is prefixed with `'` (OWASP CSV injection guidance). Numbers and dates are
written by us, never taken from user input, so a negative amount stays a number. Dates are ISO
8601. `stream_csv` yields the file line by line: the HTTP response streams it
(`StreamingHttpResponse`) while the selector iterates the database in chunks, and the day close
writes the same lines to a file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from decimal import Decimal

from django.http import StreamingHttpResponse

from reports.rows import COLUMNS, DATE, DECIMAL, HEADERS, INT, ReportRow, iso

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: str) -> str:
    """`'=HYPERLINK(...)` for `=HYPERLINK(...)`; other text unchanged."""
    if value and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(kind: str, value) -> str:
    if value is None or value == "":
        return ""
    if kind == DATE:
        return iso(value)
    if kind == INT:
        return str(int(value))
    if kind == DECIMAL:
        return format(Decimal(value).quantize(Decimal("0.01")), "f")
    return escape_cell(str(value))


def csv_cells(row: ReportRow) -> list[str]:
    return [_cell(column.kind, row.get(column.key)) for column in COLUMNS]


class _Echo:
    """A file-like object whose write() returns the line, for csv.writer inside a generator."""

    def write(self, value: str) -> str:
        return value


def stream_csv(rows: Iterable[ReportRow]) -> Iterator[str]:
    """The CSV as an iterator of lines (header first), each ending in CRLF."""
    writer = csv.writer(_Echo())
    yield writer.writerow([escape_cell(header) for header in HEADERS])
    for row in rows:
        yield writer.writerow(csv_cells(row))


def csv_response(rows: Iterable[ReportRow], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse((line.encode("utf-8") for line in stream_csv(rows)), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
