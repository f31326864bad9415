"""The nightly close's Celery beat entry, off by default (issue 6 item 5).

Settings merge it: `CELERY_BEAT_SCHEDULE.update(reports.schedule.beat_schedule())`. Imports no
Django models, so settings may import it.

    REPORTS_NIGHTLY_CLOSE_AT=02:30   run every day at 02:30 in CELERY_TIMEZONE (UTC); empty = off
"""

from __future__ import annotations

import os
import re

from celery.schedules import crontab

ENV_NAME = "REPORTS_NIGHTLY_CLOSE_AT"
TASK_NAME = "reports.close_previous_day"
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def beat_schedule(value: str | None = None) -> dict:
    """`{}` unless a time HH:MM is configured; raises ValueError on a malformed time."""
    raw = (os.environ.get(ENV_NAME, "") if value is None else value).strip()
    if not raw:
        return {}
    match = _TIME.match(raw)
    if not match:
        raise ValueError(f"{ENV_NAME} must be a time HH:MM (24-hour), got {raw!r}")
    hour, minute = int(match.group(1)), int(match.group(2))
    return {"reports-nightly-close": {"task": TASK_NAME, "schedule": crontab(hour=hour, minute=minute)}}
