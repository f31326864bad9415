"""Services for administrations and their pauses (issue 4 items 1, 3 and 5).

Validation (`administration_problems`) is shared by the form, which shows each message next to
its field, and by the services, which refuse the same input with a `ValidationError` keyed by
model field. Thresholds:

- `FUTURE_START_TOLERANCE` 5 minutes: a start further in the future is a typo, not a plan.
- `MAX_ADMINISTRATION` 24 hours: longer only for a prolonged pump (route `pump_prolonged`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from charges import units as unitconv
from charges.errors import StaleVersion
from charges.models import Administration, Encounter, Pause
from charges.models.encounters import LONG_ROUTES
from charges.services import audit, user_label
from charges.services.validation import full_clean_local

FUTURE_START_TOLERANCE = datetime.timedelta(minutes=5)
MAX_ADMINISTRATION = datetime.timedelta(hours=24)

#: fields a nurse sets on an administration (everything else is bookkeeping)
EDITABLE_FIELDS = (
    "drug",
    "hcpcs",
    "category",
    "route",
    "site",
    "separate_site_required",
    "separate_site_reason",
    "integral_to",
    "start_at",
    "stop_at",
    "bag",
    "dose",
    "dose_unit",
    "wasted",
    "ndc",
    "single_dose_container",
    "acquired_340b",
    "purpose",
    "hydration_indication",
    "primary_reason",
    "separate_encounter",
    "pump_type",
    "pump_supplied_by",
    "hormonal",
    "billing_unit",
)

MSG_STOP_BEFORE_START = "Stop must be after start."
MSG_FUTURE_START = "Start is more than 5 minutes in the future. Check the time and date."
MSG_TOO_LONG = "An administration cannot last more than 24 hours, except a prolonged pump."
MSG_PAUSE_OUTSIDE = "Each pause must fall inside the administration, between its start and stop."
MSG_PAUSE_ORDER = "A pause must end after it starts."
MSG_PAUSE_OVERLAP = "Pauses must not overlap."
MSG_DOSE_POSITIVE = "Dose must be greater than zero."
MSG_DOSE_UNIT_MISSING = "Choose the unit of the dose."
MSG_WASTED_NEGATIVE = "Wasted cannot be negative."


@dataclass(frozen=True)
class PauseSpan:
    start_at: datetime.datetime
    stop_at: datetime.datetime


def billing_unit_of(hcpcs: str, on: datetime.date) -> str:
    """The codebook billing unit of a drug (``mg``, ``mL``, ...) or '' when unknown."""
    if not hcpcs:
        return ""
    from charges.selectors import drug_by_hcpcs

    entry = drug_by_hcpcs(hcpcs, on)
    return entry.billing_unit if entry else ""


def administration_problems(
    *,
    values: dict[str, Any],
    pauses: list[PauseSpan],
    now: datetime.datetime | None = None,
    service_date: datetime.date | None = None,
    billing_unit: str | None = None,
) -> dict[str, list[str]]:
    """Every problem of an administration, keyed by model field ('pauses' for the pause list).

    `billing_unit`: the codebook billing unit of the drug (`values["hcpcs"]`) on the service date when the
    caller already has it (the form, from its catalog); None looks it up (`billing_unit_of`).
    """
    problems: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        problems.setdefault(field, []).append(message)

    now = now or timezone.now()
    start = values.get("start_at")
    stop = values.get("stop_at")
    route = values.get("route") or ""
    if start is not None:
        if start > now + FUTURE_START_TOLERANCE:
            add("start_at", MSG_FUTURE_START)
        if stop is not None:
            if stop <= start:
                add("stop_at", MSG_STOP_BEFORE_START)
            elif stop - start > MAX_ADMINISTRATION and route not in LONG_ROUTES:
                add("stop_at", MSG_TOO_LONG)
    dose = values.get("dose")
    if dose is not None:
        if dose <= 0:
            add("dose", MSG_DOSE_POSITIVE)
        unit = values.get("dose_unit") or ""
        if not unit:
            add("dose_unit", MSG_DOSE_UNIT_MISSING)
        else:
            target = (
                billing_unit
                if billing_unit is not None
                else billing_unit_of(values.get("hcpcs") or "", service_date or (start.date() if start else now.date()))
            )
            if unitconv.normalize_unit(unit) is None:
                add("dose_unit", f"“{unit}” is not a dose unit.")
            elif target and target != "dose" and not unitconv.convertible(unit, target):
                add(
                    "dose_unit",
                    f"A dose in {unit} cannot be converted to {target}, the unit this drug is billed in. "
                    "Chart the dose in a unit that converts.",
                )
    wasted = values.get("wasted")
    if wasted is not None and wasted < 0:
        add("wasted", MSG_WASTED_NEGATIVE)
    ordered = sorted(pauses, key=lambda p: p.start_at)
    for pause in ordered:
        if pause.stop_at <= pause.start_at:
            add("pauses", MSG_PAUSE_ORDER)
            continue
        if start is not None and (pause.start_at < start or (stop is not None and pause.stop_at > stop)):
            add("pauses", MSG_PAUSE_OUTSIDE)
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start_at < a.stop_at:
            add("pauses", MSG_PAUSE_OVERLAP)
    for field in list(problems):
        problems[field] = list(dict.fromkeys(problems[field]))
    return problems


def _raise_if_problems(problems: dict[str, list[str]]) -> None:
    if problems:
        raise ValidationError(problems)


def _bump_documentation(encounter: Encounter, actor: Any, *, locked: bool = False) -> None:
    """Marks a documentation change: derivations of older versions are discarded.

    `locked`: the caller holds the encounter's row lock (select_for_update) and read it under that
    lock, so the new version is known without reading it back.
    """
    now = timezone.now()
    Encounter.objects.filter(pk=encounter.pk).update(
        documentation_version=F("documentation_version") + 1, updated_at=now
    )
    if locked:
        encounter.documentation_version += 1
        encounter.updated_at = now
    else:
        encounter.refresh_from_db(fields=["documentation_version", "updated_at"])


def _clean_exclude(actor: Any) -> list[str]:
    """Fields `full_clean()` need not check: the encounter (locked above) and, for a signed-in actor
    read by this request, the two user keys (a query each; the foreign keys still hold them)."""
    exclude = ["encounter"]
    if actor is not None and getattr(actor, "pk", None) is not None:
        exclude += ["documented_by", "updated_by"]
    return exclude


def _save_pauses(administration: Administration, pauses: list[PauseSpan], *, created: bool = False) -> None:
    existing = [] if created else list(administration.pauses.all())
    wanted = sorted(pauses, key=lambda p: p.start_at)
    same = [(p.start_at, p.stop_at) for p in existing] == [(p.start_at, p.stop_at) for p in wanted]
    if same:
        return
    for pause in existing:
        pause.delete()
    for span in wanted:
        pause = Pause(administration=administration, start_at=span.start_at, stop_at=span.stop_at)
        full_clean_local(pause, exclude=["administration"])
        pause.save()


def _audit_detail(adm: Administration) -> dict[str, Any]:
    return {
        "administration": adm.pk,
        "drug": adm.drug,
        "hcpcs": adm.hcpcs,
        "route": adm.route,
        "version": adm.version,
    }


def _queue_derivation(encounter: Encounter) -> None:
    from charges.services.derivations import derivation_request

    derivation_request(encounter=encounter)


@transaction.atomic
def administration_create(
    *,
    encounter: Encounter,
    actor: Any,
    values: dict[str, Any],
    pauses: list[PauseSpan] | None = None,
    now: datetime.datetime | None = None,
) -> Administration:
    """Records a new administration (with its pauses) and queues a derivation on commit."""
    pauses = pauses or []
    encounter = Encounter.objects.select_for_update().get(pk=encounter.pk)
    _raise_if_problems(
        administration_problems(values=values, pauses=pauses, now=now, service_date=encounter.service_date)
    )
    adm = Administration(encounter=encounter, documented_by=actor, updated_by=actor)
    for field in EDITABLE_FIELDS:
        if field in values:
            setattr(adm, field, values[field])
    full_clean_local(adm, exclude=_clean_exclude(actor))
    adm.save()
    _save_pauses(adm, pauses, created=True)
    _bump_documentation(encounter, actor, locked=True)
    audit(
        action="administration.create",
        actor=actor,
        obj=adm,
        center_id=encounter.center_id,
        patient_ref=encounter.patient_ref,
        detail=_audit_detail(adm),
    )
    _queue_derivation(encounter)
    return adm


def _check_version(adm: Administration, expected_version: int | None) -> None:
    if expected_version is not None and adm.version != expected_version:
        changed_at = adm.updated_at.astimezone(ZoneInfo(adm.encounter.center.time_zone))
        raise StaleVersion(changed_by=user_label(adm.updated_by), changed_at=changed_at)


@transaction.atomic
def administration_update(
    *,
    administration: Administration,
    actor: Any,
    values: dict[str, Any],
    pauses: list[PauseSpan] | None = None,
    expected_version: int | None = None,
    now: datetime.datetime | None = None,
) -> Administration:
    """Changes an administration; `expected_version` guards against overwriting a colleague's save."""
    adm = Administration.objects.select_for_update().get(pk=administration.pk)
    _check_version(adm, expected_version)
    encounter = adm.encounter
    if pauses is None:
        pauses = [PauseSpan(p.start_at, p.stop_at) for p in adm.pauses.all()]
    merged = {field: getattr(adm, field) for field in EDITABLE_FIELDS}
    merged.update(values)
    _raise_if_problems(
        administration_problems(values=merged, pauses=pauses, now=now, service_date=encounter.service_date)
    )
    changed = [f for f in EDITABLE_FIELDS if getattr(adm, f) != merged[f]]
    for field in EDITABLE_FIELDS:
        setattr(adm, field, merged[field])
    adm.updated_by = actor
    adm.version += 1
    full_clean_local(adm, exclude=_clean_exclude(actor))
    adm.save()
    _save_pauses(adm, pauses)
    _bump_documentation(encounter, actor)
    audit(
        action="administration.update",
        actor=actor,
        obj=adm,
        center_id=encounter.center_id,
        patient_ref=encounter.patient_ref,
        detail={**_audit_detail(adm), "changed": changed},
    )
    _queue_derivation(encounter)
    return adm


@transaction.atomic
def administration_stop_now(
    *, administration: Administration, actor: Any, at: datetime.datetime | None = None
) -> Administration:
    """The board's "Stop now": sets the stop time of a running administration to now (to the minute)."""
    at = (at or timezone.now()).replace(second=0, microsecond=0)
    adm = Administration.objects.select_for_update().get(pk=administration.pk)
    if adm.stop_at is not None:
        return adm
    return administration_update(
        administration=adm, actor=actor, values={"stop_at": at}, expected_version=adm.version, now=at
    )


@transaction.atomic
def administration_delete(*, administration: Administration, actor: Any, expected_version: int | None = None) -> None:
    """Removes an administration charted by mistake (its history is kept)."""
    adm = Administration.objects.select_for_update().get(pk=administration.pk)
    _check_version(adm, expected_version)
    encounter = adm.encounter
    detail = _audit_detail(adm)
    audit(
        action="administration.delete",
        actor=actor,
        obj=adm,
        center_id=encounter.center_id,
        patient_ref=encounter.patient_ref,
        detail=detail,
    )
    adm._change_reason = "removed by nurse"  # simple-history
    adm.delete()
    _bump_documentation(encounter, actor)
    _queue_derivation(encounter)


def to_decimal(value: Any) -> Decimal | None:
    if value in (None, ""):
        return None
    return Decimal(str(value))
