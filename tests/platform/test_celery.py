"""Celery: eager in tests; a real round trip through Redis and an in-process worker (celery_live)."""

from __future__ import annotations

import time

import pytest

from infusioncenter.tasks import ping


def test_tasks_run_eagerly_in_tests():
    result = ping.delay(1)
    assert result.get(timeout=1) == 2


@pytest.mark.celery_live
def test_round_trip_through_the_broker_and_a_worker(celery_live_worker):
    result = ping.delay(41)
    assert result.get(timeout=30) == 42
    assert result.successful()
    assert celery_live_worker.conf.task_always_eager is False


@pytest.mark.celery_live
def test_heartbeat_task_writes_the_worker_heartbeat(celery_live_worker, settings):
    import redis

    from infusioncenter.tasks import heartbeat

    settings.REDIS_URL = celery_live_worker.conf.broker_url
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(settings.WORKER_HEARTBEAT_KEY)
    heartbeat.delay()  # ignore_result: wait for its effect instead of a result
    deadline = time.monotonic() + 30
    while client.get(settings.WORKER_HEARTBEAT_KEY) is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert client.get(settings.WORKER_HEARTBEAT_KEY) is not None
