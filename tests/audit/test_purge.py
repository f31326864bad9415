"""Retention: `manage.py purge --before DATE [--dry-run]` (issue 7 item 6)."""

from __future__ import annotations

import datetime
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.utils import timezone

from audit.chain import SEAL_ACTION, verify_chain
from audit.maintenance import maintenance
from audit.models import AuditEvent
from audit.services import DEFAULT_RETENTION_DAYS, audit_record, latest_purge_date

pytestmark = pytest.mark.django_db

OLD = datetime.datetime(2015, 3, 1, 12, 0, tzinfo=datetime.UTC)

draft_calls: list[dict] = []


def fake_purge_voided_drafts(*, before, dry_run):
    draft_calls.append({"before": before, "dry_run": dry_run})
    return 4


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("purge", *args, stdout=out)
    return out.getvalue()


def verify_text() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code), err.getvalue()
    return 0, out.getvalue()


@pytest.fixture
def trail():
    """Three rows from 2015 (past the 7-year retention), then two recent ones."""
    with time_machine.travel(OLD, tick=False):
        old = [audit_record(action="test.old", detail={"n": n}) for n in range(3)]
    recent = [audit_record(action="test.recent", detail={"n": n}) for n in range(2)]
    return old, recent


@pytest.fixture
def no_drafts(monkeypatch):
    monkeypatch.setattr("audit.services.PURGE_VOIDED_DRAFTS", "tests.audit.test_purge.no_such_function")


def test_default_retention_is_seven_years():
    assert DEFAULT_RETENTION_DAYS == 2557
    assert latest_purge_date(datetime.date(2026, 1, 1)) == datetime.date(2019, 1, 1)


def test_dry_run_lists_counts_and_changes_nothing(trail, no_drafts):
    before = AuditEvent.objects.count()
    text = run("--before", "2016-01-01", "--dry-run")
    assert "audit rows before 2016-01-01: would remove 3" in text
    assert "voided drafts before 2016-01-01: would remove not available" in text
    assert "dry run: nothing changed" in text
    assert AuditEvent.objects.count() == before


def test_purge_removes_old_rows_seals_the_chain_and_verify_accepts_it(trail, no_drafts):
    old, recent = trail
    text = run("--before", "2016-01-01")
    assert "removed 3" in text
    assert not AuditEvent.objects.filter(action="test.old").exists()
    assert AuditEvent.objects.filter(action="test.recent").count() == 2
    seal = AuditEvent.objects.get(action=SEAL_ACTION)
    assert seal.detail["seal"] == {"sequence": old[-1].sequence, "hash": old[-1].hash}
    assert seal.detail["audit_rows"] == 3
    assert seal.sequence > recent[-1].sequence
    code, report = verify_text()
    assert code == 0
    assert f"from sealed boundary #{old[-1].sequence}" in report
    # The chain goes on after the seal.
    audit_record(action="test.later")
    assert verify_chain().ok


def test_a_row_deleted_after_the_purge_is_still_detected(trail, no_drafts):
    run("--before", "2016-01-01")
    first_kept = AuditEvent.objects.order_by("sequence").first()
    with maintenance():
        AuditEvent.objects.filter(pk=first_kept.pk).delete()
    code, report = verify_text()
    assert code == 1
    assert "no purge seal records that boundary" in report


def test_purge_with_nothing_old_is_still_recorded(no_drafts):
    audit_record(action="test.recent")
    text = run("--before", "2016-01-01")
    assert "nothing to remove" in text
    seal = AuditEvent.objects.get(action=SEAL_ACTION)
    assert seal.detail["audit_rows"] == 0 and seal.detail["seal"] is None
    assert verify_chain().ok


@override_settings(AUDIT_RETENTION_DAYS=30)
def test_a_second_purge_moves_the_sealed_boundary(no_drafts):
    with time_machine.travel(OLD, tick=False):
        audit_record(action="test.oldest")
    with time_machine.travel(OLD + datetime.timedelta(days=400), tick=False):
        audit_record(action="test.old")
        run("--before", "2015-06-01")  # 2015-03-01 row goes, seal #3 written "in 2016"
    run("--before", "2017-01-01")
    assert list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True)) == [SEAL_ACTION]
    code, report = verify_text()
    assert code == 0, report
    assert "from sealed boundary #3" in report


def test_voided_drafts_are_purged_through_the_charges_hook(trail, monkeypatch):
    monkeypatch.setattr("audit.services.PURGE_VOIDED_DRAFTS", "tests.audit.test_purge.fake_purge_voided_drafts")
    draft_calls.clear()
    text = run("--before", "2016-01-01", "--dry-run")
    assert "voided drafts before 2016-01-01: would remove 4" in text
    text = run("--before", "2016-01-01")
    assert "voided drafts before 2016-01-01: removed 4" in text
    assert draft_calls == [
        {"before": datetime.date(2016, 1, 1), "dry_run": True},
        {"before": datetime.date(2016, 1, 1), "dry_run": False},
    ]
    assert AuditEvent.objects.get(action=SEAL_ACTION).detail["voided_drafts"] == 4


def test_a_date_inside_the_retention_window_is_refused(trail, no_drafts):
    today = timezone.now().date()
    count = AuditEvent.objects.count()
    with pytest.raises(CommandError, match="inside the retention window of 2557 days"):
        run("--before", today.isoformat())
    assert AuditEvent.objects.count() == count


@override_settings(AUDIT_RETENTION_DAYS=30)
def test_retention_comes_from_settings(trail, no_drafts):
    allowed = (timezone.now() - datetime.timedelta(days=30)).date()
    assert "removed 3" in run("--before", allowed.isoformat())
    with pytest.raises(CommandError, match="retention window of 30 days"):
        run("--before", (allowed + datetime.timedelta(days=1)).isoformat())


@override_settings(AUDIT_RETENTION_DAYS="seven years")
def test_a_bad_retention_setting_is_a_clear_error(no_drafts):
    with pytest.raises(CommandError, match="AUDIT_RETENTION_DAYS must be a positive number"):
        run("--before", "2016-01-01")


@pytest.mark.parametrize("value", ["yesterday", "2016-13-01", "", "2016-01-01T00:00"])
def test_a_malformed_date_is_a_clear_error(value):
    with pytest.raises(CommandError, match="--before must be a date like 2018-01-31"):
        run("--before", value)


def test_a_missing_charges_module_means_no_drafts(trail, monkeypatch):
    monkeypatch.setattr("audit.services.PURGE_VOIDED_DRAFTS", "tests.audit.no_such_module.purge_voided_drafts")
    assert "would remove not available" in run("--before", "2016-01-01", "--dry-run")


def test_a_broken_charges_module_is_not_hidden(trail, monkeypatch):
    monkeypatch.setattr("audit.services.PURGE_VOIDED_DRAFTS", "tests.audit.broken_retention.purge_voided_drafts")
    count = AuditEvent.objects.count()
    with pytest.raises(ModuleNotFoundError, match="no_such_dependency_for_audit_tests"):
        run("--before", "2016-01-01")
    assert AuditEvent.objects.count() == count
