"""Concurrent writers cannot fork the chain (AUD-03): appends are serialized, and the unique
constraints on `sequence` and `prev_hash` refuse a second row on the same head."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction

from audit.chain import verify_chain
from audit.models import AuditEvent
from audit.services import audit_record

WRITERS = 2
ROWS_EACH = 15


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_threads_writing_at_once_leave_one_unbroken_chain():
    barrier = threading.Barrier(WRITERS)
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            for n in range(ROWS_EACH):
                with transaction.atomic():
                    audit_record(action="test.concurrent", detail={"writer": name, "n": n})
                    time.sleep(0.002)  # hold the transaction open so the other writer has to wait
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(f"w{i}",)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    rows = list(AuditEvent.objects.order_by("sequence").values_list("sequence", "prev_hash", "hash", "detail"))
    assert len(rows) == WRITERS * ROWS_EACH
    assert [row[0] for row in rows] == list(range(1, WRITERS * ROWS_EACH + 1))
    for previous, current in zip(rows, rows[1:], strict=False):
        assert current[1] == previous[2]
    assert {row[3]["writer"] for row in rows} == {f"w{i}" for i in range(WRITERS)}
    report = verify_chain()
    assert report.ok and report.rows == WRITERS * ROWS_EACH


@pytest.mark.django_db
def test_a_second_row_on_the_same_head_is_refused_by_the_database():
    """What a writer that skipped the lock would try: the unique constraints make the fork impossible."""
    head = audit_record(action="test.head")
    fork = AuditEvent(action="test.fork", sequence=head.sequence, prev_hash=head.prev_hash, hash="f" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        fork.save(force_insert=True)
    fork = AuditEvent(action="test.fork", sequence=head.sequence + 1, prev_hash=head.prev_hash, hash="e" * 64)
    with pytest.raises(IntegrityError), transaction.atomic():
        fork.save(force_insert=True)
    assert verify_chain().ok
