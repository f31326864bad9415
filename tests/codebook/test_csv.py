"""CSV import and export of every codebook table: the seed's columns, all of a file or nothing of it."""

from __future__ import annotations

import csv
import datetime
import io

import pytest

from audit.models import AuditEvent
from codebook.models import CODEBOOK_MODELS, MODELS_BY_TABLE, Modifier, ProcedureCode
from codebook.selectors import codebook_tables
from codebook.services import ImportRejected, codebook_export_csv, codebook_import_csv, codebook_new_version

pytestmark = pytest.mark.django_db

TODAY = datetime.date(2025, 6, 1)  # the seed (from 2025-01-01) has started; rows from 2030 have not

# For each table: a column and a value the seed loader refuses.
BAD_CELLS = {
    "procedure_codes": ("price", "ten dollars"),
    "addon_primaries": ("primary", "9641"),
    "ptp_pairs": ("modifier_indicator", "5"),
    "drugs": ("billing_unit", "kg"),
    "modifiers": ("code", "X"),
    "icd10": ("code", "51.11"),
    "payers": ("is_default", "yes"),
    "payer_notes": ("note", ""),
    "facility_places_of_service": ("place_of_service", "1"),
    "revenue_codes": ("revenue_code", "260"),
}
assert set(BAD_CELLS) == set(MODELS_BY_TABLE)


def to_csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def exported(model) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(codebook_export_csv(model=model)))
    return list(reader.fieldnames), list(reader)


def import_bytes(model, data: bytes, actor):
    return codebook_import_csv(model=model, file=io.BytesIO(data), actor=actor, today=TODAY)


@pytest.mark.parametrize("table", sorted(MODELS_BY_TABLE))
def test_export_writes_the_seed_columns_and_imports_back_unchanged(seeded, admin_user, table):
    model = MODELS_BY_TABLE[table]
    text = codebook_export_csv(model=model)
    header, rows = exported(model)
    assert header == [column.name for column in model.COLUMNS]
    assert rows == codebook_tables()[table]
    before = codebook_tables()
    result = import_bytes(model, text.encode(), admin_user)
    assert (result.created, result.updated, result.unchanged) == (0, 0, len(rows))
    assert codebook_tables() == before


@pytest.mark.parametrize("table", sorted(MODELS_BY_TABLE))
def test_a_bad_row_refuses_the_whole_file(seeded, admin_user, table):
    model = MODELS_BY_TABLE[table]
    header, rows = exported(model)
    first = rows[0]
    closing = {**first, "valid_to": "2029-12-31"}  # ends a started row: allowed
    successor = {**first, "valid_from": "2030-01-01", "valid_to": ""}  # its next version
    column, value = BAD_CELLS[table]
    bad = {**successor, "valid_from": "2031-01-01", column: value}
    before = codebook_tables()
    audit_before = AuditEvent.objects.count()

    with pytest.raises(ImportRejected) as caught:
        import_bytes(model, to_csv(header, [closing, successor, bad]), admin_user)
    message = str(caught.value)
    assert message.startswith("nothing was imported: ")
    assert f"row 4, column {column}" in message, message
    assert codebook_tables() == before  # not even the two good rows
    assert AuditEvent.objects.count() == audit_before

    # The same file without the bad row is imported (so the refusal above was the bad row's doing).
    result = import_bytes(model, to_csv(header, [closing, successor]), admin_user)
    assert (result.created, result.updated) == (1, 1)
    assert codebook_tables()[table] != before[table]
    object_type = f"codebook.{model._meta.model_name}"
    assert AuditEvent.objects.filter(action="codebook.import", object_type=object_type).exists()


def test_a_started_row_is_not_changed_in_place_by_an_import(seeded, admin_user):
    header, rows = exported(ProcedureCode)
    rows[2]["price"] = "1"
    with pytest.raises(ImportRejected, match="row 4, column price: .* not changed in place"):
        import_bytes(ProcedureCode, to_csv(header, rows), admin_user)


def test_a_future_row_may_be_changed_by_an_import(seeded, admin_user):
    future = codebook_new_version(
        row=Modifier.objects.get(code="JW"), valid_from=datetime.date(2030, 1, 1), actor=admin_user
    )
    header, rows = exported(Modifier)
    for row in rows:
        if row["code"] == "JW" and row["valid_from"] == "2030-01-01":
            row["description"] = "Reworded from 2030"
    result = import_bytes(Modifier, to_csv(header, rows), admin_user)
    assert (result.created, result.updated) == (0, 1)
    future.refresh_from_db()
    assert future.description == "Reworded from 2030"


def test_overlapping_versions_are_refused_with_the_row_that_overlaps(seeded, admin_user):
    header, rows = exported(Modifier)
    rows.append({**rows[0], "valid_from": "2030-01-01"})  # the first row is still open-ended
    with pytest.raises(ImportRejected) as caught:
        import_bytes(Modifier, to_csv(header, rows), admin_user)
    assert f"row {len(rows) + 1}, column valid_from" in str(caught.value)
    assert "overlapping versions" in str(caught.value)


def test_the_same_key_and_start_twice_in_a_file(seeded, admin_user):
    header, rows = exported(Modifier)
    rows.append(dict(rows[0]))
    with pytest.raises(ImportRejected, match=f"row {len(rows) + 1}, column valid_from: row 2 already gives"):
        import_bytes(Modifier, to_csv(header, rows), admin_user)


def test_a_missing_or_unknown_column_names_row_1(seeded, admin_user):
    header, rows = exported(Modifier)
    data = to_csv(header[:-1] + ["colour"], [{**{k: row[k] for k in header[:-1]}, "colour": "x"} for row in rows])
    with pytest.raises(ImportRejected) as caught:
        import_bytes(Modifier, data, admin_user)
    assert "row 1, column valid_to: the column is missing" in str(caught.value)
    assert "row 1, column colour: not a column of modifiers" in str(caught.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "row 1: the file is empty"),
        (b"code,description,valid_from,valid_to\n\xff\xfe,x,2030-01-01,\n", "row 2: the file is not UTF-8"),
        (b"code,description,valid_from,valid_to\nZZ,x,2030-01-01\n", "row 2: 3 cells for 4 columns"),
        (b"code,description,valid_from,valid_to\nZZ,x,2030-02-30,\n", "row 2, column valid_from"),
        (b"code,description,valid_from,valid_to\nZZ,x,2030-02-01,2030-01-01\n", "row 2, column valid_to"),
        (b"\x00\x01binary", "not a CSV text file"),
    ],
)
def test_unreadable_files_get_a_clear_message(seeded, admin_user, data, message):
    with pytest.raises(ImportRejected, match=message):
        import_bytes(Modifier, data, admin_user)
    assert not Modifier.objects.filter(code="ZZ").exists()


def test_an_unknown_payer_in_a_note(seeded, admin_user):
    header, rows = exported(MODELS_BY_TABLE["payer_notes"])
    rows.append({**rows[0], "payer": "nobody", "note": "new note", "valid_from": "2030-01-01"})
    with pytest.raises(ImportRejected, match=f"row {len(rows) + 1}, column payer: no payer with key 'nobody'"):
        import_bytes(MODELS_BY_TABLE["payer_notes"], to_csv(header, rows), admin_user)


def test_a_file_that_would_break_the_rules_book_is_refused_whole(seeded, admin_user):
    model = MODELS_BY_TABLE["addon_primaries"]
    header, rows = exported(model)
    rows.append({**rows[0], "primary": "0999T", "valid_from": "2030-01-01"})  # not a procedure code
    before = codebook_tables()
    with pytest.raises(ImportRejected, match="would not build.*0999T"):
        import_bytes(model, to_csv(header, rows), admin_user)
    assert codebook_tables() == before


def test_formula_cells_are_neutralized_on_export_and_restored_on_import(seeded, admin_user):
    codebook_new_version(
        row=Modifier.objects.get(code="JW"),
        valid_from=datetime.date(2030, 1, 1),
        actor=admin_user,
        description="=HYPERLINK(1)",
    )
    text = codebook_export_csv(model=Modifier)
    assert ",'=HYPERLINK(1)," in text
    result = import_bytes(Modifier, text.encode(), admin_user)
    assert result.updated == 0 and result.created == 0
    assert Modifier.objects.get(code="JW", valid_from="2030-01-01").description == "=HYPERLINK(1)"


def test_every_codebook_model_has_a_bad_cell_case():
    assert {model.TABLE for model in CODEBOOK_MODELS} == set(BAD_CELLS)
