"""XLSX of the daily charge report: openpyxl write-only mode, written to a temporary file.

Sheet "Lines": a header row (frozen), one row per charge line with typed cells (dates as dates,
units as integers, amounts as numbers with two decimals). Sheet "Totals": per code, per payer
and overall (lines, net units, net amount). Write-only mode keeps memory flat: rows are streamed
to the file as they come from the database iterator.

Text is always stored as a string cell, so a patient name beginning with `=` is text, never a
formula.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from django.http import FileResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from reports.rows import COLUMNS, DATE, DECIMAL, HEADERS, INT, ReportRow, Total, Totals

AMOUNT_FORMAT = "#,##0.00;-#,##0.00"
LINES_SHEET = "Lines"
TOTALS_SHEET = "Totals"
TOTALS_HEADERS = ("Group", "Key", "Lines", "Units", "Amount")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text_cell(ws, value: str):
    if value.startswith("="):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _header(ws, headers: Iterable[str]) -> list:
    bold = Font(bold=True)
    cells = []
    for header in headers:
        cell = WriteOnlyCell(ws, value=header)
        cell.font = bold
        cells.append(cell)
    return cells


def _amount(ws, value) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, value=Decimal(value).quantize(Decimal("0.01")))
    cell.number_format = AMOUNT_FORMAT
    return cell


def _row_cells(ws, row: ReportRow) -> list:
    cells = []
    for column in COLUMNS:
        value = row.get(column.key)
        if value is None or value == "":
            cells.append(None)
        elif column.kind == DATE:
            cells.append(value)  # openpyxl gives a date cell the yyyy-mm-dd number format itself
        elif column.kind == INT:
            cells.append(int(value))
        elif column.kind == DECIMAL:
            cells.append(_amount(ws, value))
        else:
            cells.append(_text_cell(ws, str(value)))
    return cells


def _totals_row(ws, group: str, total: Total) -> list:
    return [group, _text_cell(ws, total.key), total.lines, total.units, _amount(ws, total.amount)]


def write_xlsx(rows: Iterable[ReportRow], path: Path | str) -> Totals:
    """Writes the workbook to `path`; returns the totals it wrote."""
    wb = Workbook(write_only=True)
    lines = wb.create_sheet(LINES_SHEET)
    lines.freeze_panes = "A2"
    totals = Totals.empty()
    lines.append(_header(lines, HEADERS))
    for row in rows:
        totals.add(row)
        lines.append(_row_cells(lines, row))

    sheet = wb.create_sheet(TOTALS_SHEET)
    sheet.freeze_panes = "A2"
    sheet.append(_header(sheet, TOTALS_HEADERS))
    for total in totals.codes():
        sheet.append(_totals_row(sheet, "Code", total))
    for total in totals.payers():
        sheet.append(_totals_row(sheet, "Payer", total))
    sheet.append(_totals_row(sheet, "Total", totals.overall))
    wb.save(str(path))
    return totals


def write_xlsx_tempfile(rows: Iterable[ReportRow]) -> Path:
    """Writes the workbook to a new temporary file and returns its path (the caller removes it)."""
    fd, name = tempfile.mkstemp(prefix="charges-", suffix=".xlsx")
    os.close(fd)
    try:
        write_xlsx(rows, name)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def xlsx_response(rows: Iterable[ReportRow], filename: str) -> FileResponse:
    """The workbook as a download. The temporary file is unlinked once open (POSIX keeps it readable)."""
    path = write_xlsx_tempfile(rows)
    handle = open(path, "rb")  # noqa: SIM115 - FileResponse closes it
    os.unlink(path)
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
    response["Cache-Control"] = "no-store"
    return response
