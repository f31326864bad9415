"""load_codebook: idempotent, keeps admin edits unless --force, audited, clear messages for a bad seed."""

from __future__ import annotations

import datetime
import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from charges.engine import snapshot
from codebook.models import CODEBOOK_MODELS, Drug, Modifier, PayerNote
from codebook.selectors import codebook_tables
from codebook.services import codebook_load_seed, codebook_new_version

pytestmark = pytest.mark.django_db

D = datetime.date


def counts() -> dict[str, int]:
    return {model.TABLE: model.objects.count() for model in CODEBOOK_MODELS}


def sorted_tables(tables):
    return {name: sorted(tuple(sorted(row.items())) for row in rows) for name, rows in tables.items()}


def history_counts() -> dict[str, int]:
    return {model.TABLE: model.history.count() for model in CODEBOOK_MODELS}


def test_first_load_creates_every_seed_row():
    tables = snapshot.read_tables()
    result = codebook_load_seed(force=False)
    assert result.version == "2025.1"
    assert counts() == {name: len(rows) for name, rows in tables.items()}
    assert result.total("created") == sum(len(rows) for rows in tables.values())
    assert AuditEvent.objects.filter(action="codebook.load").count() == 1


def test_the_database_renders_back_exactly_the_seed(seeded):
    assert codebook_tables() == snapshot.read_tables()


def test_loading_again_changes_nothing(seeded):
    before_rows, before_history = counts(), history_counts()
    before_audit = AuditEvent.objects.count()
    result = codebook_load_seed(force=False)
    assert result.total("created") == 0
    assert result.total("kept") == 0
    assert result.total("unchanged") == sum(before_rows.values())
    assert counts() == before_rows
    assert history_counts() == before_history  # not even a no-op save
    assert AuditEvent.objects.count() == before_audit  # nothing changed, nothing to audit


def test_the_command_prints_counts(db):
    out = io.StringIO()
    call_command("load_codebook", stdout=out)
    assert "codebook 2025.1:" in out.getvalue()
    assert "0 unchanged" in out.getvalue().splitlines()[-1]
    out = io.StringIO()
    call_command("load_codebook", stdout=out)
    last = out.getvalue().splitlines()[-1]
    assert last.startswith("codebook 2025.1: 0 created, ")
    assert last.endswith(", 0 kept")


def test_admin_edits_survive_a_load(seeded, admin_user):
    rituximab = Drug.objects.get(hcpcs="J9312")
    successor = codebook_new_version(row=rituximab, valid_from=D(2025, 7, 1), actor=admin_user, price=Decimal("99.5"))
    Modifier.objects.get(code="XE").delete()
    result = codebook_load_seed(force=False)
    assert result.total("created") == 0
    assert result.tables["drugs"].kept == 1  # the closed seed row differs from the seed: kept as edited
    assert result.tables["modifiers"].kept == 1  # deleted in the admin: stays deleted
    assert not Modifier.objects.filter(code="XE").exists()
    versions = list(Drug.objects.filter(hcpcs="J9312").order_by("valid_from"))
    assert [v.pk for v in versions] == [rituximab.pk, successor.pk]
    assert versions[0].valid_to == D(2025, 6, 30)
    assert versions[1].price == Decimal("99.5")


def test_force_makes_the_database_equal_to_the_seed_and_is_audited(seeded, admin_user):
    codebook_new_version(row=Drug.objects.get(hcpcs="J9312"), valid_from=D(2025, 7, 1), actor=admin_user, price=1)
    note = PayerNote.objects.first()
    note.note = "edited in place"
    note.save()
    Modifier.objects.get(code="XE").delete()
    result = codebook_load_seed(force=True, actor=admin_user)
    assert result.tables["drugs"].updated == 1  # the closed seed row is open again
    assert result.tables["drugs"].deleted == 1  # the admin's version is gone
    assert result.tables["payer_notes"].deleted == 1  # a note's text is part of its key: edited = another note
    assert result.tables["payer_notes"].created == 1
    assert result.tables["modifiers"].created == 1
    # The seed's rows (re-created rows come last: order matters only for duplicate drug names, none in the seed)
    assert sorted_tables(codebook_tables()) == sorted_tables(snapshot.read_tables())
    event = AuditEvent.objects.get(action="codebook.load_force")
    assert event.user == admin_user
    assert event.detail["tables"]["drugs"]["deleted"] == 1
    again = codebook_load_seed(force=True)
    assert again.total("updated") == again.total("deleted") == again.total("created") == 0
    assert AuditEvent.objects.filter(action="codebook.load_force").count() == 2  # every forced load is audited


def test_force_option_of_the_command(seeded):
    Modifier.objects.get(code="XE").delete()
    out = io.StringIO()
    call_command("load_codebook", "--force", stdout=out)
    assert "(forced)" in out.getvalue()
    assert Modifier.objects.filter(code="XE").exists()


def test_a_missing_directory_is_one_clear_error(db, tmp_path):
    with pytest.raises(CommandError, match="no seed directory"):
        call_command("load_codebook", "--dir", str(tmp_path / "nowhere"))


def test_a_bad_seed_names_file_row_and_column_and_loads_nothing(db, seed_copy):
    path = seed_copy / "drugs.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[3] = lines[3].replace(",false,", ",maybe,", 1)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("load_codebook", "--dir", str(seed_copy))
    message = str(caught.value)
    assert "drugs.csv" in message and "row 4" in message and "column hormonal" in message
    assert sum(counts().values()) == 0


def test_a_seed_that_does_not_build_a_book_is_refused(db, seed_copy):
    path = seed_copy / "payers.csv"
    text = path.read_text(encoding="utf-8").replace("Commercial (generic),false,", "Commercial (generic),true,")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CommandError, match="is_default"):
        call_command("load_codebook", "--dir", str(seed_copy))
    assert sum(counts().values()) == 0


def test_a_newer_seed_updates_rows_nobody_edited_and_keeps_the_admins(seeded, seed_copy, admin_user):
    """A new seed release closes J9312 and J9035 at 2025-12-31 and opens their next versions; the admin had
    already versioned J9035 from 2025-07-01, so only J9312 follows the seed."""
    codebook_new_version(
        row=Drug.objects.get(hcpcs="J9035"), valid_from=D(2025, 7, 1), actor=admin_user, price=Decimal("7")
    )
    path = seed_copy / "drugs.csv"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    out = [lines[0]]
    for line in lines[1:]:
        if line.startswith(("J9312,", "J9035,")):
            assert line.endswith(",2025-01-01,\n")
            out.append(line.replace(",2025-01-01,\n", ",2025-01-01,2025-12-31\n"))
            out.append(line.replace(",2025-01-01,\n", ",2026-01-01,\n").replace(",10,mg,", ",20,mg,", 1))
        else:
            out.append(line)
    path.write_text("".join(out), encoding="utf-8")

    result = codebook_load_seed(force=False, directory=seed_copy)
    assert (result.tables["drugs"].updated, result.tables["drugs"].created) == (1, 1)
    assert result.tables["drugs"].kept == 2  # J9035's closed 2025 row and its 2026 row (the admin's version covers it)
    rituximab = list(Drug.objects.filter(hcpcs="J9312").order_by("valid_from"))
    assert [(r.valid_from, r.valid_to) for r in rituximab] == [(D(2025, 1, 1), D(2025, 12, 31)), (D(2026, 1, 1), None)]
    bevacizumab = list(Drug.objects.filter(hcpcs="J9035").order_by("valid_from"))
    assert [(r.valid_from, r.valid_to, r.price) for r in bevacizumab][1] == (D(2025, 7, 1), None, Decimal("7"))
    assert len(bevacizumab) == 2
    again = codebook_load_seed(force=False, directory=seed_copy)
    assert again.total("created") == again.total("updated") == 0  # idempotent with the new seed too
