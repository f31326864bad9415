"""Helpers shared by the charting views."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.roles import Role
from charges.selectors import encounter_page_queryset


def is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def nurse_encounter(request: HttpRequest, pk: int) -> Any:
    """The encounter if it is at one of the nurse's centers; another center's is a 404."""
    return get_object_or_404(encounter_page_queryset(request.user, Role.NURSE), pk=pk)


def center_today(center: Any) -> datetime.date:
    return timezone.now().astimezone(ZoneInfo(center.time_zone)).date()


def local(value: datetime.datetime | None, center: Any) -> datetime.datetime | None:
    return value.astimezone(ZoneInfo(center.time_zone)) if value else None
