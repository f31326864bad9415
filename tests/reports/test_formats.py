"""The file formats from plain rows (no database): CSV escaping, XLSX, HL7 DFT^P03, PDF, SVG charts."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message
from openpyxl import load_workbook

from reports.charts import Point, bar_chart, column_chart
from reports.exports.csv import escape_cell, stream_csv
from reports.exports.hl7 import batch_hl7, write_atomically
from reports.exports.pdf import day_summary_pdf
from reports.exports.xlsx import write_xlsx
from reports.rows import HEADERS, totals_of
from reports.schedule import beat_schedule

DAY = datetime.date(2025, 3, 4)


def make_row(**overrides):
    row = {
        "line": 1,
        "service_date": DAY,
        "mrn": "MRN001",
        "patient_name": "Doe, Jane",
        "visit_number": "V-100",
        "encounter": 10,
        "setting": "facility",
        "payer": "medicare",
        "code": "96413",
        "units": 1,
        "modifiers": "",
        "modifier_list": [],
        "revenue_code": "0335",
        "transaction": "charge",
        "amount": Decimal("300.00"),
        "unit_price": Decimal("300.00"),
        "diagnoses": "C83.30 Z51.11",
        "diagnosis_list": ["C83.30", "Z51.11"],
        "status": "exported",
        "batch": 1,
        "approved_by": "coder",
    }
    row.update(overrides)
    return row


ROWS = [
    make_row(),
    make_row(line=2, code="96415", units=3, amount=Decimal("240.00"), unit_price=Decimal("80.00")),
    make_row(
        line=3,
        encounter=11,
        mrn="MRN002",
        patient_name='=HYPERLINK("http://x")',
        payer="aetna",
        code="J9312",
        units=10,
        modifiers="JW JZ",
        modifier_list=["JW", "JZ"],
        revenue_code="0636",
        amount=Decimal("500.00"),
        unit_price=Decimal("50.00"),
    ),
    make_row(
        line=4,
        encounter=11,
        mrn="MRN002",
        patient_name='=HYPERLINK("http://x")',
        payer="aetna",
        code="J9312",
        units=-10,
        transaction="credit",
        amount=Decimal("-500.00"),
        unit_price=Decimal("50.00"),
        revenue_code="0636",
        modifiers="JW",
        modifier_list=["JW"],
    ),
]


# --- CSV ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")'])
def test_formula_cells_are_prefixed(raw):
    assert escape_cell(raw) == "'" + raw


@pytest.mark.parametrize("raw", ["Doe, Jane", "O'Brien", "", "96413", "a=b"])
def test_plain_cells_unchanged(raw):
    assert escape_cell(raw) == raw


def test_csv_escapes_names_and_keeps_numbers():
    text = "".join(stream_csv(ROWS))
    parsed = list(csv.reader(io.StringIO(text)))
    assert tuple(parsed[0]) == HEADERS
    by_header = [dict(zip(parsed[0], row, strict=True)) for row in parsed[1:]]
    assert by_header[2]["Patient name"] == '\'=HYPERLINK("http://x")'
    assert by_header[0]["Date of service"] == "2025-03-04"
    # a credit is a signed number, not text: no quote prefix on generated numbers
    assert by_header[3]["Amount"] == "-500.00"
    assert by_header[3]["Units"] == "-10"
    assert by_header[3]["Transaction"] == "credit"
    assert len(by_header) == len(ROWS)


def test_csv_totals_equal_the_lines():
    text = "".join(stream_csv(ROWS))
    rows = list(csv.DictReader(io.StringIO(text)))
    totals = totals_of(ROWS)
    assert sum(Decimal(r["Amount"]) for r in rows) == totals.overall.amount == Decimal("540.00")
    assert totals.by_code["J9312"].amount == Decimal("0.00")
    assert totals.by_code["J9312"].units == 0
    assert totals.by_payer["medicare"].amount == Decimal("540.00")


# --- XLSX --------------------------------------------------------------------------------------------


def test_xlsx_columns_types_frozen_header_and_totals(tmp_path):
    path = tmp_path / "report.xlsx"
    write_xlsx(ROWS, path)
    wb = load_workbook(path)
    assert wb.sheetnames == ["Lines", "Totals"]
    lines = wb["Lines"]
    assert lines.freeze_panes == "A2"
    values = list(lines.iter_rows(values_only=True))
    assert values[0] == HEADERS
    header = values[0]
    first = dict(zip(header, values[1], strict=True))
    assert isinstance(first["Date of service"], datetime.datetime)  # openpyxl reads dates back as datetimes
    assert first["Date of service"].date() == DAY
    assert first["Units"] == 1 and isinstance(first["Units"], int)
    assert first["Amount"] == 300
    assert isinstance(first["Amount"], int | float)
    third = lines.cell(row=4, column=header.index("Patient name") + 1)
    assert third.data_type == "s"  # text, never a formula
    assert third.value == '=HYPERLINK("http://x")'
    totals = {(row[0], row[1]): row[2:] for row in wb["Totals"].iter_rows(min_row=2, values_only=True)}
    assert totals[("Code", "J9312")] == (2, 0, 0)
    assert totals[("Code", "96415")] == (1, 3, 240)
    assert totals[("Payer", "medicare")] == (2, 4, 540)
    assert totals[("Total", "All")] == (4, 4, 540)
    assert sum(r[header.index("Amount")] for r in values[1:]) == totals[("Total", "All")][2]


# --- HL7 ---------------------------------------------------------------------------------------------


def parse_batch(text: str):
    messages = [part for part in text.split("\r\n") if part]
    parsed = []
    for message in messages:
        msg = parse_message(message, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
        assert msg.validate() is True  # strict v2.5 DFT_P03 structure
        parsed.append(msg)
    return parsed


def test_hl7_one_strict_dft_p03_per_encounter_with_fields():
    created = datetime.datetime(2025, 3, 5, 7, 0, tzinfo=datetime.UTC)
    text = batch_hl7(ROWS, batch_number=7, sending_facility="riverside", created_at=created)
    messages = parse_batch(text)
    assert len(messages) == 2
    first, second = messages
    assert first.msh.msh_9.to_er7() == "DFT^P03^DFT_P03"
    assert first.msh.msh_12.to_er7() == "2.5"
    assert first.pid.pid_3.cx_1.value == "MRN001"
    assert first.pid.pid_5.to_er7() == "Doe^Jane"
    assert first.pv1.pv1_19.to_er7() == "V-100"
    ft1s = [group.ft1 for group in first.dft_p03_financial]
    assert [f.ft1_25.ce_1.value for f in ft1s] == ["96413", "96415"]
    assert [f.ft1_4.to_er7() for f in ft1s] == ["20250304", "20250304"]
    assert [f.ft1_6.to_er7() for f in ft1s] == ["CG", "CG"]
    assert [f.ft1_7.ce_1.value for f in ft1s] == ["96413", "96415"]
    assert [f.ft1_10.to_er7() for f in ft1s] == ["1", "3"]
    assert [d.ce_1.value for d in ft1s[0].ft1_19] == ["C83.30", "Z51.11"]
    # the credit: CD with positive units (the sign comes from the type), modifiers repeated
    ft1s = [group.ft1 for group in second.dft_p03_financial]
    assert [f.ft1_6.to_er7() for f in ft1s] == ["CG", "CD"]
    assert [f.ft1_10.to_er7() for f in ft1s] == ["10", "10"]
    assert [f.ft1_11.to_er7() for f in ft1s] == ["500.00&USD", "500.00&USD"]
    assert [m.ce_1.value for m in ft1s[0].ft1_26] == ["JW", "JZ"]
    assert [m.ce_1.value for m in ft1s[1].ft1_26] == ["JW"]
    assert second.pid.pid_3.cx_1.value == "MRN002"


def test_hl7_escapes_delimiters_in_free_text():
    row = make_row(patient_name="Smith|Jones^X", mrn="A&B~C", visit_number="V\\1")
    (msg,) = parse_batch(
        batch_hl7([row], batch_number=1, sending_facility="c", created_at=datetime.datetime.now(datetime.UTC))
    )
    assert msg.pid.pid_3.cx_1.to_er7() == "A\\T\\B\\R\\C"
    assert msg.pv1.pv1_19.to_er7() == "V\\E\\1"
    assert len(list(msg.dft_p03_financial)) == 1


def test_hl7_outbox_write_is_atomic(tmp_path):
    target = write_atomically(tmp_path / "out", "b.hl7", b"MSH|x\r")
    assert target.read_bytes() == b"MSH|x\r"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["b.hl7"]


# --- PDF, charts, schedule ---------------------------------------------------------------------------


def test_pdf_summary_is_a_pdf():
    data = day_summary_pdf(
        center_name="Riverside \u2013 Infusion",
        day=DAY,
        totals=totals_of(ROWS),
        status_counts={"exported": 4},
        batches=[(7, 4, Decimal("540.00"))],
        generated_at=datetime.datetime(2025, 3, 5, 8, 0, tzinfo=datetime.UTC),
        transactions={"charge": (3, 14, Decimal("1040.00")), "credit": (1, 10, Decimal("500.00"))},
        compress=False,
    )
    assert data.startswith(b"%PDF-")
    for text in (b"Totals per code", b"J9312", b"credit", b"540.00", b"Riverside ? Infusion", b"2025-03-04"):
        assert text in data
    assert b"MRN001" not in data and b"Doe" not in data  # totals only, no patient data
    assert len(data) > 800


def test_charts_are_svg_with_escaped_text_and_no_style():
    svg = column_chart([Point("03-04", 3), Point("<b>", 0)], title="Charges & amounts", chart_id="c1")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;b&gt;" in svg and "<b>" not in svg
    assert "Charges &amp; amounts" in svg
    assert "style=" not in svg and "<script" not in svg
    assert svg.count("<rect") == 2
    bars = bar_chart([Point("96413", 10), Point("J9312", 5)], title="Top codes", chart_id="c2")
    assert 'role="img"' in bars and "96413" in bars


def test_empty_charts_render():
    assert "<svg" in column_chart([], title="none", chart_id="e1")
    assert "<svg" in bar_chart([], title="none", chart_id="e2")


def test_beat_schedule_off_by_default_and_configurable():
    assert beat_schedule("") == {}
    entry = beat_schedule("02:30")["reports-nightly-close"]
    assert entry["task"] == "reports.close_previous_day"
    assert entry["schedule"].hour == {2} and entry["schedule"].minute == {30}
    with pytest.raises(ValueError, match="HH:MM"):
        beat_schedule("25:00")
