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


def test_an_eager_task_inside_a_request_leaves_the_request_context_intact():
    from audit import context
    from infusioncenter.logging import get_request_id, reset_request_id, set_request_id

    token = set_request_id("req-outer-0001")
    with context.bind(request_id="req-outer-0001", client_address="10.0.0.9", user_id=5):
        ping.delay(1).get(timeout=1)
        assert context.current().request_id == "req-outer-0001"
        assert context.current().user_id == 5
        assert context.current().task_id == ""
        assert get_request_id() == "req-outer-0001"
    reset_request_id(token)
