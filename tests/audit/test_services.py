"""audit_record: fields, context, the chain, same-transaction semantics (AUD-04) and refused input."""

from __future__ import annotations

import datetime
import decimal
import logging

import pytest
from django.db import connection, transaction

from accounts.models import Center
from audit import context
from audit.chain import compute_hash, verify_chain
from audit.models import GENESIS_HASH, AuditEvent
from audit.services import AuditError, audit_record, audit_record_durable
from tests.factories import CenterFactory


class Boom(Exception):
    pass


class FakeEncounter:
    """Stands in for a model with the audit attributes (`audit_patient_ref`, `center_id`)."""

    pk = 41
    center_id = 3
    audit_patient_ref = "patient:abc123"


@pytest.fixture(autouse=True)
def _bound_request():
    with context.bind(request_id="req-0000000001", client_address="192.0.2.10", user_id=None, task_id=""):
        yield


def ours(**filters):
    return AuditEvent.objects.filter(action__startswith="test.", **filters)


@pytest.mark.django_db
def test_a_row_carries_who_what_where_and_the_context(nurse):
    event = audit_record(action="test.view", actor=nurse, obj=FakeEncounter(), detail={"tab": "summary"})
    event.refresh_from_db()
    assert event.user == nurse and event.username == "nurse"
    assert (event.object_type, event.object_id) == ("fakeencounter", "41")
    assert (event.patient_ref, event.center_id) == ("patient:abc123", 3)
    assert (event.client_address, event.request_id, event.task_id) == ("192.0.2.10", "req-0000000001", "")
    assert event.outcome == "success"
    assert event.detail == {"tab": "summary"}
    assert event.timestamp.utcoffset() == datetime.timedelta(0)


@pytest.mark.django_db
def test_a_model_object_gives_its_app_label_and_pk(admin_user, center):
    event = audit_record(action="test.change", actor=admin_user, obj=center, outcome="denied")
    assert (event.object_type, event.object_id, event.center_id, event.outcome) == (
        "accounts.center",
        str(center.pk),
        None,
        "denied",
    )


@pytest.mark.django_db
def test_explicit_fields_win_over_the_object():
    event = audit_record(action="test.x", obj=FakeEncounter(), patient_ref="patient:other", center_id=9)
    assert (event.patient_ref, event.center_id) == ("patient:other", 9)


@pytest.mark.django_db
def test_without_actor_the_bound_user_is_recorded(nurse):
    with context.bind(user_id=nurse.pk, task_id="celery-task-1"):
        event = audit_record(action="test.derive")
    assert (event.user_id, event.username, event.task_id) == (nurse.pk, "nurse", "celery-task-1")


@pytest.mark.django_db
def test_rows_form_a_chain():
    AuditEvent.objects.all()  # the chain may hold rows written by fixtures
    first = audit_record(action="test.one", detail={"n": 1})
    second = audit_record(action="test.two", detail={"amount": decimal.Decimal("12.50"), "ratio": 0.25})
    assert second.sequence == first.sequence + 1
    assert second.prev_hash == first.hash
    stored = AuditEvent.objects.get(pk=second.pk)
    assert stored.detail == {"amount": "12.50", "ratio": "0.25"}
    assert compute_hash(stored.prev_hash, stored) == stored.hash
    chain_start = AuditEvent.objects.order_by("sequence").first()
    assert chain_start.sequence == 1 and chain_start.prev_hash == GENESIS_HASH
    assert verify_chain().ok


@pytest.mark.django_db
def test_the_audit_row_is_rolled_back_with_the_change():
    """AUD-04: a change that rolls back leaves neither its data row nor its audit row."""
    with pytest.raises(Boom):
        with transaction.atomic():
            center = CenterFactory(slug="doomed-center")
            audit_record(action="test.center_create", obj=center)
            raise Boom
    assert not Center.objects.filter(slug="doomed-center").exists()
    assert not ours(action="test.center_create").exists()
    # ... and the chain continues without a gap.
    audit_record(action="test.after")
    assert verify_chain().ok


@pytest.mark.django_db
def test_the_audit_row_commits_with_the_change():
    with transaction.atomic():
        center = CenterFactory(slug="kept-center")
        audit_record(action="test.center_create", obj=center)
    assert ours(action="test.center_create", object_id=str(center.pk)).count() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "Encounter Create"}, "dotted lower-case"),
        ({"action": "nodot"}, "dotted lower-case"),
        ({"action": "test." + "x" * 200}, "dotted lower-case"),
        ({"action": "test.x", "outcome": "locked_out"}, "outcome"),
        ({"action": "test.x", "detail": ["not", "a", "dict"]}, "must be a dict"),
        ({"action": "test.x", "detail": {"mrn": "12345"}}, "patient data"),
        ({"action": "test.x", "detail": {"nested": {"Patient_Name": "Jane"}}}, "patient data"),
        ({"action": "test.x", "detail": {"n": float("nan")}}, "non-finite"),
        ({"action": "test.x", "detail": {"o": object()}}, "not JSON-serializable"),
        ({"action": "test.x", "center_id": "north"}, "center_id"),
    ],
)
@pytest.mark.django_db
def test_bad_input_is_refused_with_a_clear_message(kwargs, message):
    with pytest.raises(AuditError, match=message):
        audit_record(**kwargs)
    assert not ours().exists()


@pytest.mark.django_db
def test_nul_characters_and_oversized_text_are_made_safe():
    event = audit_record(action="test.x", object_id="1\x002" + "9" * 100, detail={"note\x00": "a\x00b"})
    event.refresh_from_db()
    assert event.object_id.startswith("12") and len(event.object_id) == 64
    assert event.detail == {"note": "ab"}
    assert verify_chain().ok


# --- durable writes (survive the caller's rollback) ---------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_durable_row_outside_a_transaction_survives_the_callers_later_rollback():
    """The failed-sign-in shape: the durable event is committed at once, the request then fails."""
    with pytest.raises(Boom):
        audit_record_durable(action="test.login_failed", outcome="failure", detail={"username": "ghost"})
        with transaction.atomic():
            CenterFactory(slug="rolled-back")
            audit_record(action="test.change")
            raise Boom
    assert ours(action="test.login_failed", outcome="failure").count() == 1
    assert not ours(action="test.change").exists()
    assert not Center.objects.filter(slug="rolled-back").exists()
    assert verify_chain().ok


@pytest.mark.django_db
def test_durable_row_in_a_test_case_transaction_is_written():
    event = audit_record_durable(action="test.denied", outcome="denied")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_durable_row_inside_the_callers_transaction_survives_its_rollback_on_postgres():
    """On PostgreSQL the durable row is committed on a second connection, whatever the caller does."""
    with pytest.raises(Boom):
        with transaction.atomic():
            CenterFactory(slug="rolled-back")
            audit_record_durable(action="test.denied", outcome="denied", detail={"path": "/x"})
            raise Boom
    assert not Center.objects.filter(slug="rolled-back").exists()
    assert ours(action="test.denied", outcome="denied").count() == 1
    audit_record(action="test.after")
    assert verify_chain().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_durable_row_after_an_audit_row_in_the_same_transaction_does_not_deadlock(caplog):
    """The transaction holds the chain lock: the row is written in it (kept if it commits), with a warning."""
    with caplog.at_level(logging.WARNING, logger="audit.services"), transaction.atomic():
        audit_record(action="test.first")
        audit_record_durable(action="test.denied", outcome="denied")
    assert ours(action="test.denied").count() == 1
    assert "chain lock is held" in caplog.text
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_durable_row_inside_a_transaction_on_sqlite_is_written_in_it_with_a_warning(caplog):
    """SQLite has one writer: inside a caller's transaction the row shares its fate (documented)."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite behaviour")
    with caplog.at_level(logging.WARNING, logger="audit.services"), transaction.atomic():
        audit_record_durable(action="test.denied", outcome="denied")
    assert ours(action="test.denied").count() == 1
    assert "SQLite has a single writer" in caplog.text


def test_durable_refuses_unknown_arguments():
    with pytest.raises(TypeError, match="unexpected"):
        audit_record_durable(action="test.x", patient_name="Jane")
