"""Platform tasks: the worker heartbeat read by /readyz, and a ping for the live Celery test."""

from __future__ import annotations

import time

from celery import shared_task
from django.conf import settings


@shared_task(name="infusioncenter.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Beat runs this every 30 s; a worker that executes it writes the time into Redis."""
    if not settings.REDIS_URL:
        return
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.set(settings.WORKER_HEARTBEAT_KEY, str(time.time()), ex=settings.WORKER_HEARTBEAT_MAX_AGE * 2)


@shared_task(name="infusioncenter.ping")
def ping(value: int) -> int:
    """Returns value + 1; used to prove a round trip through the broker and the result backend."""
    return int(value) + 1
