"""Effective dates: the book picks the version in force per date; "new version" closes a row and opens the next;
the cached database book follows every change."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal

import pytest

from audit.models import AuditEvent
from codebook.models import CodebookRevision, Drug, Modifier, Payer, PayerNote, ProcedureCode
from codebook.selectors import codebook_snapshot_id, payer_notes_for, rules_book
from codebook.services import (
    CodebookError,
    RowStarted,
    codebook_close_row,
    codebook_delete_row,
    codebook_load_seed,
    codebook_new_version,
    codebook_save_row,
)

pytestmark = pytest.mark.django_db

D = datetime.date


def rewrite(path, change) -> None:
    """Apply change(rows) -> rows to one seed CSV file."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        header, rows = reader.fieldnames, list(reader)
    rows = change(rows)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


@pytest.fixture
def seed_from_2024(seed_copy):
    """The seed valid from 2024-01-01, with J9312 billed per 100 mg until 2024-12-31 and per 10 mg from 2025-01-01."""

    def from_2024(rows):
        for row in rows:
            row["valid_from"] = "2024-01-01"
        return rows

    for path in seed_copy.glob("*.csv"):
        rewrite(path, from_2024)

    def split_rituximab(rows):
        out = []
        for row in rows:
            if row["hcpcs"] == "J9312":
                out.append({**row, "billing_unit_amount": "100", "valid_to": "2024-12-31"})
                out.append({**row, "valid_from": "2025-01-01"})
            else:
                out.append(row)
        return out

    rewrite(seed_copy / "drugs.csv", split_rituximab)
    return seed_copy


def test_the_book_picks_the_version_in_force_on_each_date(seed_from_2024):
    codebook_load_seed(force=False, directory=seed_from_2024)
    old, new = Drug.objects.filter(hcpcs="J9312").order_by("valid_from")
    assert (old.valid_from, old.valid_to, old.billing_unit_amount) == (D(2024, 1, 1), D(2024, 12, 31), 100)
    assert (new.valid_from, new.valid_to, new.billing_unit_amount) == (D(2025, 1, 1), None, 10)
    book = rules_book()
    assert book.for_date(D(2024, 12, 31)).drugs["J9312"].billing_unit_amount == Decimal("100")
    assert book.for_date(D(2025, 1, 1)).drugs["J9312"].billing_unit_amount == Decimal("10")
    assert book.for_date(D(2023, 12, 31)) is None  # no codebook before 2024: NO_CODEBOOK_FOR_DATE
    assert [d.pk for d in Drug.objects.in_force(D(2024, 12, 31)).filter(hcpcs="J9312")] == [old.pk]
    assert [d.pk for d in Drug.objects.in_force(D(2025, 1, 1)).filter(hcpcs="J9312")] == [new.pk]


def test_new_version_closes_the_row_and_opens_the_next(seeded, admin_user):
    row = Drug.objects.get(hcpcs="J9312")
    successor = codebook_new_version(
        row=row, valid_from=D(2025, 4, 1), actor=admin_user, billing_unit_amount=Decimal("100")
    )
    row.refresh_from_db()
    assert row.valid_to == D(2025, 3, 31)
    assert row.billing_unit_amount == Decimal("10")  # the closed version keeps its values
    assert (successor.valid_from, successor.valid_to, successor.billing_unit_amount) == (D(2025, 4, 1), None, 100)
    assert successor.name == row.name and successor.ndcs == row.ndcs
    book = rules_book()
    assert book.for_date(D(2025, 3, 31)).drugs["J9312"].billing_unit_amount == 10
    assert book.for_date(D(2025, 4, 1)).drugs["J9312"].billing_unit_amount == 100
    event = AuditEvent.objects.get(action="codebook.new_version")
    assert (event.user, event.object_type, event.object_id) == (admin_user, "codebook.drug", str(successor.pk))
    assert event.detail["changes"] == {"billing_unit_amount": ["10", "100"]}
    assert event.detail["closed"] == {"id": row.pk, "valid_to": "2025-03-31"}
    assert row.history.count() == 2  # created, then closed


def test_new_version_of_a_closed_row_ends_where_it_ended(seeded, admin_user):
    row = Drug.objects.get(hcpcs="J9312")
    codebook_close_row(row=row, valid_to=D(2025, 12, 31), actor=admin_user)
    successor = codebook_new_version(row=row, valid_from=D(2025, 7, 1), actor=admin_user, price=Decimal("1.25"))
    assert successor.valid_to == D(2025, 12, 31)


@pytest.mark.parametrize(
    ("start", "changes", "message"),
    [
        (D(2025, 1, 1), {}, "must start after 2025-01-01"),
        (D(2024, 6, 1), {}, "must start after 2025-01-01"),
        (D(2025, 4, 1), {"hcpcs": "J9999"}, "hcpcs cannot change"),
        (D(2025, 4, 1), {"colour": "red"}, "no column colour"),
        (D(2025, 4, 1), {"billing_unit": "kg"}, "billing_unit"),
    ],
)
def test_new_version_refuses(seeded, admin_user, start, changes, message):
    row = Drug.objects.get(hcpcs="J9312")
    with pytest.raises(CodebookError, match=message):
        codebook_new_version(row=row, valid_from=start, actor=admin_user, **changes)
    row.refresh_from_db()
    assert row.valid_to is None
    assert Drug.objects.filter(hcpcs="J9312").count() == 1
    assert not AuditEvent.objects.filter(action="codebook.new_version").exists()


def test_new_version_cannot_start_after_the_row_ended(seeded, admin_user):
    row = Drug.objects.get(hcpcs="J9312")
    codebook_close_row(row=row, valid_to=D(2025, 6, 30), actor=admin_user)
    with pytest.raises(CodebookError, match="ended on 2025-06-30"):
        codebook_new_version(row=row, valid_from=D(2025, 7, 1), actor=admin_user)


def test_a_note_may_be_reworded_in_a_new_version(seeded, admin_user):
    note = PayerNote.objects.get(payer__key="medicare", code="96376")
    successor = codebook_new_version(row=note, valid_from=D(2025, 5, 1), actor=admin_user, note="Reworded.")
    assert [n.note for n in payer_notes_for("medicare", ["96376"], D(2025, 4, 30)) if n.code] == [note.note]
    assert [n.note for n in payer_notes_for("medicare", ["96376"], D(2025, 5, 1)) if n.code] == ["Reworded."]
    assert successor.payer.key == "medicare"


def test_payer_notes_for_a_payer_and_codes():
    codebook_load_seed(force=False)
    notes = list(payer_notes_for("medicare", ["96376", "99999"], D(2025, 3, 1)))
    assert [n.code for n in notes] == ["", "96376"]  # the whole-payer note first, then the code's
    assert list(payer_notes_for("medicare", [], D(2024, 3, 1))) == []  # before the codebook starts
    assert all(n.payer.key == "commercial" for n in payer_notes_for("commercial", ["96413"], D(2025, 3, 1)))


def test_a_started_row_is_not_edited_in_place(seeded, admin_user):
    row = ProcedureCode.objects.get(code="96413")
    row.price = Decimal("1")
    with pytest.raises(RowStarted, match="new version"):
        codebook_save_row(row=row, actor=admin_user, today=D(2025, 3, 1))
    with pytest.raises(RowStarted):
        codebook_delete_row(row=row, actor=admin_user, today=D(2025, 3, 1))
    row.refresh_from_db()
    assert row.price != Decimal("1")


def test_a_future_row_is_edited_and_audited(seeded, admin_user):
    row = ProcedureCode.objects.get(code="96413")
    successor = codebook_new_version(row=row, valid_from=D(2099, 1, 1), actor=admin_user, price=Decimal("500"))
    successor.price = Decimal("550.50")
    codebook_save_row(row=successor, actor=admin_user)
    event = AuditEvent.objects.filter(action="codebook.change").get()
    assert event.detail["changes"] == {"price": ["500", "550.5"]}
    # Deleting it would leave 96413 closed on 2098-12-31 while add-on rows still name it as their primary:
    with pytest.raises(CodebookError, match="would not build.*96413"):
        codebook_delete_row(row=successor, actor=admin_user)
    assert ProcedureCode.objects.filter(pk=successor.pk).exists()
    modifier = codebook_new_version(
        row=Modifier.objects.get(code="JW"), valid_from=D(2099, 1, 1), actor=admin_user, description="later"
    )
    codebook_delete_row(row=modifier, actor=admin_user)
    assert AuditEvent.objects.filter(action="codebook.delete", object_id=str(modifier.pk)).exists()
    assert Modifier.objects.get(code="JW").valid_to == D(2098, 12, 31)  # deleting a successor does not reopen a row


def test_rules_book_is_cached_until_the_codebook_changes(seeded, admin_user, django_assert_max_num_queries):
    first = rules_book()
    with django_assert_max_num_queries(1):  # one query: the revision token
        assert rules_book() is first
    snapshot_id = codebook_snapshot_id()
    drug = Drug.objects.get(hcpcs="J9312")
    codebook_new_version(row=drug, valid_from=D(2025, 2, 1), actor=admin_user, billing_unit_amount=Decimal("5"))
    second = rules_book()
    assert second is not first
    assert second.for_date(D(2025, 3, 1)).drugs["J9312"].billing_unit_amount == 5
    assert codebook_snapshot_id() != snapshot_id
    assert codebook_snapshot_id().startswith("2025.1@")


def test_any_orm_save_changes_the_revision(seeded):
    before = CodebookRevision.objects.get().token
    payer = Payer.objects.get(key="commercial")
    payer.name = "Commercial, renamed from a shell"
    payer.save()
    assert CodebookRevision.objects.get().token != before
    assert rules_book().for_date(D(2025, 3, 1)).payers["commercial"].name == "Commercial, renamed from a shell"


def test_a_change_that_would_break_the_rules_book_is_refused(seeded, admin_user):
    medicare = Payer.objects.get(key="medicare")
    with pytest.raises(CodebookError, match="would not build.*is_default"):
        codebook_new_version(row=medicare, valid_from=D(2025, 7, 1), actor=admin_user, is_default=False)
    medicare.refresh_from_db()
    assert medicare.valid_to is None and medicare.is_default
    assert Payer.objects.filter(key="medicare").count() == 1
    assert rules_book().for_date(D(2025, 8, 1)).default_payer.key == "medicare"
