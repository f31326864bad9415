"""AUD-03: `manage.py verify_audit` reports the first broken row (altered or deleted), exit 1; else 0."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from audit.chain import compute_hash
from audit.maintenance import maintenance
from audit.models import AuditEvent
from audit.services import audit_record

pytestmark = pytest.mark.django_db


def verify() -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("verify_audit", stdout=out, stderr=err)
    except SystemExit as exc:
        return int(exc.code), err.getvalue()
    return 0, out.getvalue()


def raw(sql: str, params=None) -> None:
    with maintenance(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def five():
    AuditEvent.objects.exists()
    return [audit_record(action="test.step", detail={"n": n}) for n in range(5)]


def test_an_empty_trail_is_intact():
    assert AuditEvent.objects.count() == 0
    assert verify() == (0, "audit chain OK: 0 rows (empty)\n")


def test_an_intact_trail_reports_its_count_and_head(five):
    total = AuditEvent.objects.count()
    code, text = verify()
    assert code == 0
    assert f"audit chain OK: {total} rows" in text
    assert five[-1].hash in text


def test_a_tampered_row_is_reported(five):
    target = five[2]
    raw("UPDATE audit_auditevent SET detail = %s WHERE id = %s", ['{"n": 99}', target.pk])
    code, text = verify()
    assert code == 1
    assert f"BROKEN at row #{target.sequence}: content altered" in text


def test_a_tampered_row_with_a_recomputed_hash_breaks_the_next_link(five):
    target = AuditEvent.objects.get(pk=five[2].pk)
    target.outcome = "failure"
    forged = compute_hash(target.prev_hash, target)
    raw("UPDATE audit_auditevent SET outcome = 'failure', hash = %s WHERE id = %s", [forged, target.pk])
    code, text = verify()
    assert code == 1
    assert f"BROKEN at row #{five[3].sequence}: prev_hash does not match the hash of row #{target.sequence}" in text


def test_a_deleted_row_is_reported(five):
    gone = five[1]
    raw("DELETE FROM audit_auditevent WHERE id = %s", [gone.pk])
    code, text = verify()
    assert code == 1
    assert f"BROKEN at row #{five[2].sequence}: rows #{gone.sequence}..#{gone.sequence} are missing" in text


def test_deleted_first_rows_without_a_purge_seal_are_reported(five):
    first = AuditEvent.objects.order_by("sequence").first()
    raw("DELETE FROM audit_auditevent WHERE sequence <= %s", [first.sequence + 1])
    code, text = verify()
    assert code == 1
    assert "are missing and no purge seal records that boundary" in text


def test_a_deleted_last_row_leaves_a_shorter_intact_chain_and_a_different_head(five):
    """Tail truncation is not detectable from inside: compare the printed head with a kept copy (ADR 0002)."""
    raw("DELETE FROM audit_auditevent WHERE id = %s", [five[-1].pk])
    code, text = verify()
    assert code == 0
    assert five[-1].hash not in text and five[-2].hash in text


def test_missing_triggers_fail_verification(five):
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER audit_event_no_delete")
        else:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks before ALTER TABLE
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER audit_event_no_update_delete")
    code, text = verify()
    assert code == 1
    assert "append-only triggers are missing" in text
