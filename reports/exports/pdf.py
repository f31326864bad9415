"""Printable PDF summary of a day (fpdf2): totals per code and per payer, lines per status, and the
batches of the day. Totals only: no patient names or MRNs on the printout."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from decimal import Decimal

from fpdf import FPDF

from reports.rows import Total, Totals


def _money(value: Decimal) -> str:
    return format(Decimal(value).quantize(Decimal("0.01")), ",f")


def _latin(text: str) -> str:
    """The core PDF fonts are Latin-1: anything else becomes '?', never an error."""
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _table(pdf: FPDF, title: str, headers: Sequence[str], rows: Iterable[Sequence[str]], widths: Sequence[int]) -> None:
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 8, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 9)
    for header, width in zip(headers, widths, strict=True):
        pdf.cell(width, 6, _latin(header), border="B", align="L" if width == widths[0] else "R")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    for row in rows:
        for value, width in zip(row, widths, strict=True):
            pdf.cell(width, 5, _latin(value), align="L" if width == widths[0] else "R")
        pdf.ln()
    pdf.ln(3)


def _total_rows(totals: Iterable[Total]) -> list[list[str]]:
    return [[t.key or "(none)", str(t.lines), str(t.units), _money(t.amount)] for t in totals]


def day_summary_pdf(
    *,
    center_name: str,
    day: datetime.date,
    totals: Totals,
    status_counts: dict[str, int],
    batches: Sequence[tuple[int, int, Decimal]],
    generated_at: datetime.datetime,
    transactions: dict[str, tuple[int, int, Decimal]] | None = None,
    compress: bool = True,
) -> bytes:
    """The PDF bytes. `batches`: (number, lines, net amount) of the batches closing this day;
    `transactions`: charge/credit -> (lines, units, amount) as stored (positive)."""
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_compression(compress)
    pdf.set_title(_latin(f"Charge summary {day.isoformat()}"))
    pdf.set_author("Infusion charges")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, _latin(f"Daily charge summary: {center_name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, f"Date of service: {day.isoformat()}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(0, 6, f"Generated: {generated_at.isoformat(timespec='minutes')}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        6,
        f"Lines: {totals.overall.lines}   Net units: {totals.overall.units}   "
        f"Net amount: {_money(totals.overall.amount)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(3)
    widths = (70, 30, 30, 40)
    _table(pdf, "Totals per code", ("Code", "Lines", "Units", "Amount"), _total_rows(totals.codes()), widths)
    _table(pdf, "Totals per payer", ("Payer", "Lines", "Units", "Amount"), _total_rows(totals.payers()), widths)
    _table(
        pdf,
        "Charges and credits (credits and rebills of corrected lines)",
        ("Type", "Lines", "Units", "Amount"),
        [
            [kind, str(n), str(units), _money(amount)]
            for kind, (n, units, amount) in sorted((transactions or {}).items())
        ]
        or [["none", "", "", ""]],
        widths,
    )
    _table(
        pdf,
        "Lines per status",
        ("Status", "Lines"),
        [[status, str(count)] for status, count in sorted(status_counts.items())],
        (70, 30),
    )
    _table(
        pdf,
        "Export batches closing this day",
        ("Batch", "Lines", "Net amount"),
        [[str(number), str(lines), _money(amount)] for number, lines, amount in batches] or [["none", "", ""]],
        (70, 30, 40),
    )
    return bytes(pdf.output())
