"""Builds the engine-io.md input encounter (a plain dict) from the documentation models.

Times are sent as ISO 8601 with the center's UTC offset, so the engine never has to guess a
local time; `timezone` is the center's zone, in which the engine dates the lines.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from charges.models import Administration, Encounter, Setting


def _iso(value: datetime.datetime | None, tz: ZoneInfo) -> str | None:
    if value is None:
        return None
    return value.astimezone(tz).isoformat(timespec="minutes")


def _number(value: Decimal | None) -> int | float | str | None:
    """Decimals go into JSON as int when whole, else as a plain decimal string-free number."""
    if value is None:
        return None
    value = value.normalize()
    if value == value.to_integral_value():
        return int(value)
    # the engine reads numbers with Decimal(str(x)); repr of the float keeps the digits typed
    return float(value)


def group_key_for(separate_encounter: Any) -> str:
    """The charge set group of an administration: '' for the main group, else its return label."""
    if separate_encounter in (None, False, ""):
        return ""
    if separate_encounter is True:
        return "separate"
    return str(separate_encounter)


def administration_input(adm: Administration, tz: ZoneInfo) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": adm.engine_id,
        "drug": adm.drug,
        "route": adm.route,
        "site": adm.site or "A",
        "start": _iso(adm.start_at, tz),
        "stop": _iso(adm.stop_at, tz),
        "pauses": [{"start": _iso(p.start_at, tz), "stop": _iso(p.stop_at, tz)} for p in adm.pauses.all()],
        "acquired_340b": bool(adm.acquired_340b),
        "primary_reason": bool(adm.primary_reason),
        "separate_encounter": adm.separate_encounter or False,
        "separate_site_required": bool(adm.separate_site_required),
    }
    optional: dict[str, Any] = {
        "hcpcs": adm.hcpcs or None,
        "category": adm.category or None,
        "dose": _number(adm.dose),
        "dose_unit": adm.dose_unit or None,
        "wasted": _number(adm.wasted),
        "ndc": adm.ndc or None,
        "single_dose_container": adm.single_dose_container,
        "purpose": adm.purpose or None,
        "bag": adm.bag or None,
        "integral_to": adm.integral_to or None,
        "separate_site_reason": adm.separate_site_reason or None,
        "pump_type": adm.pump_type or None,
        "pump_supplied_by": adm.pump_supplied_by or None,
        "hormonal": adm.hormonal,
        "billing_unit": _number(adm.billing_unit),
    }
    item.update({k: v for k, v in optional.items() if v is not None})
    return item


def build_engine_input(encounter: Encounter, administrations: list[Administration] | None = None) -> dict[str, Any]:
    """The engine-io.md encounter for `encounter` (administrations with their pauses prefetched or not)."""
    center = encounter.center
    tz = ZoneInfo(center.time_zone)
    if administrations is None:
        administrations = list(encounter.administrations.prefetch_related("pauses").order_by("start_at", "pk"))
    data: dict[str, Any] = {
        "id": f"E{encounter.pk}",
        "setting": encounter.setting,
        "payer": encounter.payer,
        "timezone": center.time_zone,
        "billing_entity": encounter.billing_entity,
        "diagnoses": list(encounter.diagnoses or []),
        "administrations": [administration_input(a, tz) for a in administrations],
    }
    if encounter.setting == Setting.FACILITY:
        data["department_status"] = encounter.department_status
    elif encounter.place_of_service:
        data["place_of_service"] = encounter.place_of_service
    if encounter.other_services:
        data["other_services"] = list(encounter.other_services)
    if encounter.em_code:
        data["em"] = {"code": encounter.em_code, "separately_identifiable": bool(encounter.em_separately_identifiable)}
    return data
