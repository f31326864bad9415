"""Celery tasks of the reports app: the nightly close (issue 6 item 5).

Ids and dates only in task arguments and logs (LOG-01). Each run closes, for every active center,
the day before "today" in the center's time zone. Running it twice is harmless: the second close
of a day finds nothing new (REL-04). A failing center is logged with ids only, recorded as a
failed `DayClose` (shown on the dashboard) and does not stop the other centers.
"""

from __future__ import annotations

import datetime
import logging
import zoneinfo

from celery import shared_task
from django.utils import timezone

logger = logging.getLogger(__name__)


def previous_day(time_zone: str, now: datetime.datetime | None = None) -> datetime.date:
    now = now or timezone.now()
    return (now.astimezone(zoneinfo.ZoneInfo(time_zone)) - datetime.timedelta(days=1)).date()


def close_center_day(*, center_id: int, day: datetime.date, task_id: str = "") -> str:
    """Closes one center's day for the scheduler; returns the outcome (exported/nothing_new/failed)."""
    from accounts.models import Center
    from reports.models import CloseSource
    from reports.services import day_close, day_close_failed

    try:
        center = Center.objects.get(pk=center_id)
        result = day_close(center=center, date=day, actor=None, source=CloseSource.SCHEDULE, task_id=task_id)
    except Exception as exc:  # noqa: BLE001 - one failing center must not stop the others
        # ids only: no exception message or traceback (a database error can quote row values)
        logger.error(
            "nightly close failed",
            extra={"center_id": center_id, "day": day.isoformat(), "task_id": task_id, "error": type(exc).__name__},
        )
        day_close_failed(center_id=center_id, date=day, error=type(exc).__name__, task_id=task_id)
        return "failed"
    return result.day_close.outcome


@shared_task(bind=True, name="reports.close_previous_day")
def close_previous_day(self, center_ids: list[int] | None = None) -> dict[str, str]:
    """Closes yesterday (center time) for every active center, or for `center_ids`."""
    from accounts.models import Center
    from audit import context

    task_id = str(self.request.id or "")
    centers = Center.objects.filter(is_active=True).order_by("pk")
    if center_ids is not None:
        centers = centers.filter(pk__in=[int(pk) for pk in center_ids])
    outcomes: dict[str, str] = {}
    with context.bind(task_id=task_id):
        for center_id, time_zone in centers.values_list("pk", "time_zone"):
            day = previous_day(time_zone)
            outcomes[str(center_id)] = close_center_day(center_id=center_id, day=day, task_id=task_id)
    logger.info("nightly close done", extra={"task_id": task_id, "outcomes": outcomes})
    return outcomes
