"""Reading the audit trail (the viewer's queries)."""

from __future__ import annotations

import datetime
from typing import Any

from django.db.models import QuerySet

from audit.models import AuditEvent


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=datetime.UTC)


def audit_events(
    *,
    user: str = "",
    patient: str = "",
    action: str = "",
    outcome: str = "",
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
) -> QuerySet[AuditEvent]:
    """Events newest first. `user`: exact username; `patient`: exact opaque reference; `action`: an
    exact action or a prefix ending in a dot (`encounter.`); dates are UTC days, both inclusive."""
    events = AuditEvent.objects.order_by("-sequence")
    if user:
        events = events.filter(username=user)
    if patient:
        events = events.filter(patient_ref=patient)
    if action:
        events = events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
    if outcome:
        events = events.filter(outcome=outcome)
    if date_from:
        events = events.filter(timestamp__gte=_day_start(date_from))
    if date_to:
        events = events.filter(timestamp__lt=_day_start(date_to + datetime.timedelta(days=1)))
    return events


def known_actions() -> list[str]:
    return list(AuditEvent.objects.order_by("action").values_list("action", flat=True).distinct()[:500])


def filters_summary(cleaned: dict[str, Any]) -> dict[str, str]:
    """The non-empty filters as text (for the viewer's own audit row)."""
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else str(value) for key, value in cleaned.items() if value
    }
