"""The nightly close through a real broker: an in-process Celery worker against REDIS_URL.

Skipped without REDIS_URL (tests/conftest.py). Running the task twice exports once.
"""

from __future__ import annotations

import datetime

import pytest
import time_machine

from reports.models import DayClose
from review.models import ExportBatch
from tests.reports.conftest import DOS, approve, make_set

pytestmark = [pytest.mark.celery_live, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def live_worker():
    from celery.contrib.testing.worker import start_worker

    from infusioncenter.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, shutdown_timeout=10):
            yield app
    finally:
        app.conf.task_always_eager = previous


def test_nightly_close_through_the_broker_is_idempotent(center, nurse, coder, live_worker):
    from reports.tasks import close_previous_day

    approve(make_set(center, nurse), coder)
    with time_machine.travel(datetime.datetime(2025, 3, 5, 7, 0, tzinfo=datetime.UTC), tick=True):
        first = close_previous_day.apply_async(args=[[center.pk]])
        assert type(first).__name__ == "AsyncResult"  # through the broker, not eager
        assert first.get(timeout=60) == {str(center.pk): "exported"}
        second = close_previous_day.apply_async(args=[[center.pk]])
        assert second.get(timeout=60) == {str(center.pk): "nothing_new"}
    assert first.id != second.id
    assert ExportBatch.objects.filter(center=center).count() == 1
    closes = list(
        DayClose.objects.filter(center=center).order_by("pk").values_list("outcome", "task_id", "service_date")
    )
    assert closes == [("exported", first.id, DOS), ("nothing_new", second.id, DOS)]
