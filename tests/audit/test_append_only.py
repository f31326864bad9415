"""AUD-02: the database refuses UPDATE and DELETE of audit rows (SQLite and PostgreSQL triggers),
except under the maintenance flag; the test flush still works between `transaction=True` tests."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from audit.maintenance import is_test_database, maintenance, missing_triggers
from audit.models import AuditEvent
from audit.services import audit_record


def raw(sql: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def refused(sql: str, params=None) -> None:
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        raw(sql, params)


@pytest.fixture
def event(db):
    return audit_record(action="test.sample", detail={"n": 1})


def test_the_triggers_are_installed(db):
    assert missing_triggers() == set()


def test_raw_update_is_refused(event):
    refused("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["test.forged", event.pk])
    refused("UPDATE audit_auditevent SET detail = detail")
    event.refresh_from_db()
    assert event.action == "test.sample"


def test_raw_delete_is_refused(event):
    refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    refused("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_orm_update_delete_and_save_are_refused(event):
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="failure")
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    event.username = "someone-else"
    with pytest.raises(IntegrityError), transaction.atomic():
        event.save()


@pytest.mark.postgres
def test_truncate_is_refused_on_postgres(event):
    raw("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign-key checks: the trigger itself must refuse
    refused("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_maintenance_flag_lets_changes_through_and_is_cleared_after(event):
    with maintenance():
        assert raw("UPDATE audit_auditevent SET username = %s WHERE id = %s", ["fixed", event.pk]) == 1
    event.refresh_from_db()
    assert event.username == "fixed"
    refused("UPDATE audit_auditevent SET username = %s WHERE id = %s", ["again", event.pk])


def test_maintenance_flag_is_cleared_when_its_transaction_rolls_back(event):
    class Boom(Exception):
        pass

    with pytest.raises(Boom), maintenance():
        raw("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
        raise Boom
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])


@pytest.mark.django_db(transaction=True)
def test_test_flush_empties_the_audit_table_and_leaves_the_protection_on():
    """What TransactionTestCase does between tests: `call_command("flush")` (audit's subclass)."""
    assert is_test_database()
    audit_record(action="test.before_flush")
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()
    event = audit_record(action="test.after_flush")
    assert event.sequence == 1
    refused("DELETE FROM audit_auditevent")
    refused("UPDATE audit_auditevent SET action = 'test.forged'")


@pytest.mark.django_db(transaction=True)
def test_a_failed_test_flush_leaves_the_protection_on(monkeypatch):
    audit_record(action="test.keep_me")

    def broken_flush(self, sql_list):
        raise RuntimeError("disk full")

    monkeypatch.setattr(type(connection.ops), "execute_sql_flush", broken_flush)
    with pytest.raises(CommandError):
        call_command("flush", interactive=False, verbosity=0)
    monkeypatch.undo()
    refused("DELETE FROM audit_auditevent")


@pytest.mark.django_db(transaction=True)
def test_flush_outside_a_test_database_is_refused_by_the_triggers(monkeypatch):
    monkeypatch.setattr("audit.management.commands.flush.is_test_database", lambda database: False)
    audit_record(action="test.keep_me")
    with pytest.raises(CommandError, match="append-only"):
        call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.filter(action="test.keep_me").exists()
