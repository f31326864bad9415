"""Day close, re-send, report selectors and the nightly task against the database."""

from __future__ import annotations

import csv
import datetime
import hashlib
import io
from decimal import Decimal
from pathlib import Path

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from charges.models import ChargeLine
from charges.workflow import Status
from reports import selectors, services
from reports.models import BatchFile, CloseOutcome, DayClose, ReSend
from reports.rows import totals_of
from review.models import ExportBatch
from tests.reports.conftest import DOS, approve, audit_actions, make_set

pytestmark = pytest.mark.django_db


def stored(record: BatchFile) -> bytes:
    return (services.files_dir() / record.path).read_bytes()


def hl7_messages(batch):
    text = stored(BatchFile.objects.get(batch=batch, kind="hl7")).decode()
    messages = [
        parse_message(m, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True) for m in text.split("\r\n") if m
    ]
    for message in messages:
        assert message.validate() is True
    return messages


def ft1s(message):
    return [group.ft1 for group in message.dft_p03_financial]


# --- closing a day -----------------------------------------------------------------------------------


def test_close_writes_batch_files_with_checksums(approved_set, center, manager):
    result = services.day_close(center=center, date=DOS, actor=manager)
    assert result.exported
    batch = result.batch
    assert batch.number == 1 and batch.closes_date == DOS
    close = result.day_close
    assert close.outcome == CloseOutcome.EXPORTED and close.closed_by == manager and close.lines == 3
    files = {f.kind: f for f in BatchFile.objects.filter(batch=batch)}
    assert set(files) == {"csv", "xlsx", "hl7"}
    for record in files.values():
        content = stored(record)
        assert hashlib.sha256(content).hexdigest() == record.sha256
        assert record.size == len(content)
        assert record.created_by == manager and record.day_close == close
    rows = list(csv.DictReader(io.StringIO(stored(files["csv"]).decode())))
    assert [r["Code"] for r in rows] == ["96413", "96415", "J9312"]
    assert {r["Batch"] for r in rows} == {"1"}
    assert {r["Status"] for r in rows} == {"exported"}
    assert {r["Approved by"] for r in rows} == {"coder"}
    (message,) = hl7_messages(batch)
    assert message.pid.pid_3.cx_1.value == "MRN0001"
    assert message.pv1.pv1_19.to_er7() == "V100"
    assert [f.ft1_6.to_er7() for f in ft1s(message)] == ["CG", "CG", "CG"]
    assert "export.day_close" in audit_actions(center_id=center.pk)


def test_closing_the_same_day_twice_exports_once(approved_set, center, manager):
    first = services.day_close(center=center, date=DOS, actor=manager)
    second = services.day_close(center=center, date=DOS, actor=manager)
    assert first.exported and not second.exported
    assert second.day_close.outcome == CloseOutcome.NOTHING_NEW
    assert ExportBatch.objects.filter(center=center).count() == 1
    assert BatchFile.objects.count() == 3
    assert DayClose.objects.filter(center=center).count() == 2


def test_late_approval_goes_into_the_next_batch(approved_set, center, nurse, coder, manager):
    services.day_close(center=center, date=DOS, actor=manager)
    late = make_set(center, nurse, mrn="MRN0002", name="Bo Late", visit="V200")
    approve(late, coder)  # approved after the day was closed
    result = services.day_close(center=center, date=DOS, actor=manager)
    assert result.exported and result.batch.number == 2
    batch_lines = ChargeLine.objects.filter(export_item__batch=result.batch)
    assert set(batch_lines.values_list("charge_set_id", flat=True)) == {late.pk}
    (message,) = hl7_messages(result.batch)
    assert message.pid.pid_3.cx_1.value == "MRN0002"


def test_credit_and_rebill_go_into_the_next_batch_and_hl7_as_cd_cg(codebook, approved_set, center, coder, manager):
    from review.services import line_correct

    services.day_close(center=center, date=DOS, actor=manager)
    old = ChargeLine.objects.get(charge_set=approved_set, code="96415")
    line_correct(line=old, actor=coder, reason="two hours documented, not three", units=2)
    result = services.day_close(center=center, date=DOS, actor=manager)
    assert result.exported and result.batch.number == 2
    (message,) = hl7_messages(result.batch)
    segments = ft1s(message)
    assert [(f.ft1_25.ce_1.value, f.ft1_6.to_er7(), f.ft1_10.to_er7()) for f in segments] == [
        ("96415", "CD", "3"),
        ("96415", "CG", "2"),
    ]
    assert segments[0].ft1_4.to_er7() == "20250304"
    # the report nets the credit against the original: 96415 now 2 units, 140.00
    lines = selectors.report_lines(center_ids=[center.pk], date_from=DOS, date_to=DOS)
    totals = selectors.report_totals(lines)
    assert totals.by_code["96415"].units == 2
    assert totals.by_code["96415"].amount == Decimal("140.00")
    assert totals.by_code["96415"].lines == 3
    csv_rows = list(csv.DictReader(io.StringIO(stored(BatchFile.objects.get(batch=result.batch, kind="csv")).decode())))
    assert [(r["Transaction"], r["Units"], r["Amount"]) for r in csv_rows] == [
        ("credit", "-3", "-210.00"),
        ("charge", "2", "140.00"),
    ]


def test_close_refused_for_a_manager_of_another_center(approved_set, center, other_manager):
    with pytest.raises(services.CloseNotAllowed):
        services.day_close(center=center, date=DOS, actor=other_manager)
    assert not ExportBatch.objects.exists()
    assert not DayClose.objects.exists()


def test_hl7_outbox_written_on_commit(
    approved_set, center, manager, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.HL7_OUTBOX_DIR = str(tmp_path / "outbox")
    with django_capture_on_commit_callbacks(execute=True):
        result = services.day_close(center=center, date=DOS, actor=manager)
    delivered = tmp_path / "outbox" / "riverside-batch-000001.hl7"
    assert delivered.read_bytes() == stored(BatchFile.objects.get(batch=result.batch, kind="hl7"))
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["riverside-batch-000001.hl7"]


def test_failed_outbox_delivery_is_recorded_until_the_batch_is_re_sent(
    approved_set, center, manager, settings, tmp_path, django_capture_on_commit_callbacks
):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    settings.HL7_OUTBOX_DIR = str(blocker / "outbox")  # cannot be created: delivery fails
    with django_capture_on_commit_callbacks(execute=True):
        batch = services.day_close(center=center, date=DOS, actor=manager).batch
    failure = DayClose.objects.get(outcome="failed")
    assert failure.batch == batch and failure.error.startswith("HL7 outbox: ")
    assert selectors.open_close_failures([center.pk], DOS) == [failure]
    settings.HL7_OUTBOX_DIR = str(tmp_path / "outbox")
    with django_capture_on_commit_callbacks(execute=True):
        resend = services.batch_resend(batch=batch, reason="outbox was down", actor=manager)
    assert (tmp_path / "outbox" / Path(resend.outbox_path).name).exists()
    assert selectors.open_close_failures([center.pk], DOS) == []


# --- re-send -----------------------------------------------------------------------------------------


def test_resend_requires_a_reason_and_is_recorded(approved_set, center, manager):
    batch = services.day_close(center=center, date=DOS, actor=manager).batch
    with pytest.raises(services.ResendRefused):
        services.batch_resend(batch=batch, reason="  ", actor=manager)
    resend = services.batch_resend(batch=batch, reason="billing system lost the file", actor=manager)
    assert resend.checksums_ok and resend.sent_by == manager
    assert ReSend.objects.count() == 1
    assert "export.resend" in audit_actions(center_id=center.pk)


def test_resend_rebuilds_a_tampered_hl7_file_identically(approved_set, center, manager):
    batch = services.day_close(center=center, date=DOS, actor=manager).batch
    record = BatchFile.objects.get(batch=batch, kind="hl7")
    original = stored(record)
    (services.files_dir() / record.path).write_bytes(b"garbage")
    resend = services.batch_resend(batch=batch, reason="file damaged", actor=manager)
    assert resend.checksums_ok is False
    assert stored(record) == original  # deterministic: the same bytes as first sent


# --- report rows and totals --------------------------------------------------------------------------


def test_report_totals_equal_the_lines(center, other_center, nurse, coder, manager):
    make_set(center, nurse)
    make_set(
        center, nurse, mrn="MRN0002", payer="aetna", lines=[("96413", 1, [], Decimal("330"), "0335", "administration")]
    )
    make_set(center, nurse, day=DOS + datetime.timedelta(days=1), mrn="MRN0003")
    make_set(center, nurse, mrn="MRN0004", status=Status.VOID)
    make_set(other_center, nurse, mrn="MRN0009")
    lines = selectors.report_lines(center_ids=[center.pk], date_from=DOS, date_to=DOS)
    rows = list(selectors.iter_rows(lines, chunk_size=2))
    assert len(rows) == 4  # void set and the other center and day left out
    from_rows = totals_of(rows)
    from_db = selectors.report_totals(selectors.report_lines(center_ids=[center.pk], date_from=DOS, date_to=DOS))
    assert from_db.overall.amount == from_rows.overall.amount == sum(r["amount"] for r in rows) == Decimal("7520.00")
    assert from_db.overall.units == from_rows.overall.units == 75
    assert {k: (t.lines, t.units, t.amount) for k, t in from_db.by_code.items()} == {
        k: (t.lines, t.units, t.amount) for k, t in from_rows.by_code.items()
    }
    assert {k: t.amount for k, t in from_db.by_payer.items()} == {
        "aetna": Decimal("330.00"),
        "medicare": Decimal("7190.00"),
    }


def test_dashboard_figures(approved_set, center, nurse, coder, manager):
    import time_machine

    make_set(center, nurse, mrn="MRN0002")  # ready, not approved
    services.day_close(center=center, date=DOS, actor=manager)
    with time_machine.travel(datetime.datetime(2025, 3, 6, 15, 0, tzinfo=datetime.UTC)):
        later = make_set(center, nurse, mrn="MRN0003")
        approve(later, coder)
    board = selectors.dashboard(center_ids=[center.pk], today=datetime.date(2025, 3, 10), tz="America/New_York")
    assert len(board.charges_per_day) == 30
    per_day = {d: (n, a) for d, n, a in board.charges_per_day}
    assert per_day[DOS] == (9, Decimal("21570.00"))
    assert board.top_codes[0][1] == 3
    assert sorted(board.lag_days)[-1] == 2  # approved on 03-06 for a 03-04 service
    assert board.lag_p90 == 2.0
    assert dict(board.batches_per_day)[DOS] == 1
    assert board.open_queries == 0


# --- the nightly task (eager) ------------------------------------------------------------------------


def test_nightly_task_is_idempotent_and_records_failures(approved_set, center, monkeypatch, caplog):
    import time_machine

    from reports import tasks

    with time_machine.travel(datetime.datetime(2025, 3, 5, 7, 0, tzinfo=datetime.UTC)):  # 02:00 in New York
        first = tasks.close_previous_day.delay().get()
        second = tasks.close_previous_day.delay().get()
    assert first == {str(center.pk): "exported"}
    assert second == {str(center.pk): "nothing_new"}
    assert ExportBatch.objects.filter(center=center).count() == 1
    assert DayClose.objects.filter(center=center, outcome="exported").get().closed_by is None

    def boom(**kwargs):
        raise RuntimeError("disk full for patient Ada Testpatient MRN0001")

    monkeypatch.setattr(services, "day_close", boom)
    with time_machine.travel(datetime.datetime(2025, 3, 6, 7, 0, tzinfo=datetime.UTC)):
        assert tasks.close_previous_day.delay().get() == {str(center.pk): "failed"}
    logged = [r for r in caplog.records if r.getMessage() == "nightly close failed"]
    assert len(logged) == 1 and logged[0].center_id == center.pk and logged[0].error == "RuntimeError"
    assert "MRN0001" not in caplog.text and "Ada" not in caplog.text and logged[0].exc_info is None
    failure = DayClose.objects.get(outcome="failed")
    assert failure.error == "RuntimeError" and failure.service_date == datetime.date(2025, 3, 5)
    assert selectors.open_close_failures([center.pk], DOS) == [failure]


# --- concurrency (PostgreSQL row locks) ----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_closes_export_once(center, nurse, coder, manager, settings):
    import threading

    from django.db import connections

    approve(make_set(center, nurse), coder)
    barrier = threading.Barrier(2)
    results: list[str] = []
    errors: list[BaseException] = []

    def run():
        try:
            barrier.wait(timeout=10)
            result = services.day_close(center=center, date=DOS, actor=manager)
            results.append(result.day_close.outcome)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == ["exported", "nothing_new"]
    assert ExportBatch.objects.filter(center=center).count() == 1
    assert BatchFile.objects.count() == 3
