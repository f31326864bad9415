"""Services for encounters: create, update, sign (issue 4 items 1-3)."""

from __future__ import annotations

import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils import timezone

from charges.errors import SigningRefused, StaleVersion
from charges.models import Encounter, EncounterStatus
from charges.models.encounters import TIMED_ROUTES
from charges.services import audit, user_label
from charges.workflow import Status

ENCOUNTER_FIELDS = (
    "patient_mrn",
    "patient_name",
    "patient_dob",
    "visit_number",
    "ordering_provider",
    "ordering_npi",
    "service_date",
    "setting",
    "payer",
    "billing_entity",
    "department_status",
    "place_of_service",
    "diagnoses",
    "em_code",
    "em_separately_identifiable",
    "other_services",
)


def center_defaults(center: Any) -> dict[str, Any]:
    """The encounter fields that come from the center (contracts.md §4)."""
    return {
        "setting": center.setting,
        "payer": center.default_payer or "medicare",
        "billing_entity": center.billing_entity,
        "department_status": center.department_status or "on_campus",
        "place_of_service": center.place_of_service or "",
    }


@transaction.atomic
def encounter_create(*, center: Any, actor: Any, values: dict[str, Any]) -> Encounter:
    """A new encounter at `center`; fields not given come from the center."""
    data = {**center_defaults(center), **{k: v for k, v in values.items() if k in ENCOUNTER_FIELDS}}
    encounter = Encounter(center=center, created_by=actor, updated_by=actor, **data)
    encounter.full_clean()
    encounter.save()
    audit(
        action="encounter.create",
        actor=actor,
        obj=encounter,
        center_id=center.pk,
        patient_ref=encounter.patient_ref,
        detail={"encounter": encounter.pk, "service_date": encounter.service_date.isoformat()},
    )
    return encounter


@transaction.atomic
def encounter_update(
    *, encounter: Encounter, actor: Any, values: dict[str, Any], expected_version: int | None = None
) -> Encounter:
    locked = Encounter.objects.select_for_update().get(pk=encounter.pk)
    if expected_version is not None and locked.version != expected_version:
        changed_at = locked.updated_at.astimezone(ZoneInfo(locked.center.time_zone))
        raise StaleVersion(changed_by=user_label(locked.updated_by), changed_at=changed_at)
    changed = []
    for field in ENCOUNTER_FIELDS:
        if field in values and getattr(locked, field) != values[field]:
            setattr(locked, field, values[field])
            changed.append(field)
    if not changed:
        return locked
    locked.version += 1
    locked.documentation_version += 1
    locked.updated_by = actor
    locked.full_clean()
    locked.save()
    audit(
        action="encounter.update",
        actor=actor,
        obj=locked,
        center_id=locked.center_id,
        patient_ref=locked.patient_ref,
        detail={"encounter": locked.pk, "changed": changed},
    )
    from charges.services.derivations import derivation_request

    derivation_request(encounter=locked)
    return locked


def signing_problems(encounter: Encounter, derivation: Any = None) -> list[str]:
    """Why the encounter cannot be signed yet; empty when it can (REL-01)."""
    problems: list[str] = []
    for adm in encounter.administrations.all():
        if adm.stop_at is None and adm.route in TIMED_ROUTES:
            problems.append(f"{adm.drug} started {adm.start_at:%H:%M} has no stop time. Enter it before signing.")
    if derivation is None:
        from charges.selectors import current_derivation

        derivation = current_derivation(encounter)
    if derivation is not None:
        for error in derivation.errors or []:
            problems.append(f"The charge engine reports: {error.get('message') or error.get('code')}")
    return problems


@transaction.atomic
def encounter_sign(*, encounter: Encounter, actor: Any, now: datetime.datetime | None = None) -> Encounter:
    """ "Sign": the nurse hands the encounter to coding; every draft charge set goes to ready.

    Refused (`SigningRefused`) while an administration has no stop time or the engine reports an
    error. The derivation is brought up to date first, synchronously.
    """
    from charges.services.charge_sets import charge_set_transition
    from charges.services.derivations import derivation_ensure_current

    locked = Encounter.objects.select_for_update().get(pk=encounter.pk)
    if locked.status == EncounterStatus.VOID:
        raise SigningRefused("This encounter is void.")
    derivation = derivation_ensure_current(encounter=locked)
    problems = signing_problems(locked, derivation)
    if problems:
        raise SigningRefused(" ".join(problems))
    for charge_set in locked.charge_sets.filter(status=Status.DRAFT):
        charge_set_transition(charge_set=charge_set, to_status=Status.READY, actor=actor)
    locked.status = EncounterStatus.SIGNED
    locked.signed_by = actor
    locked.signed_at = now or timezone.now()
    locked.save(update_fields=["status", "signed_by", "signed_at", "updated_at"])
    audit(
        action="encounter.sign",
        actor=actor,
        obj=locked,
        center_id=locked.center_id,
        patient_ref=locked.patient_ref,
        detail={"encounter": locked.pk, "documentation_version": locked.documentation_version},
    )
    return locked


def encounter_record_view(*, encounter: Encounter, actor: Any) -> None:
    """Audits that a user opened a page with this encounter's PHI (AUD-01)."""
    audit(
        action="encounter.view",
        actor=actor,
        obj=encounter,
        center_id=encounter.center_id,
        patient_ref=encounter.patient_ref,
        detail={"encounter": encounter.pk},
    )


@transaction.atomic
def encounter_void(*, encounter: Encounter, actor: Any, reason: str) -> Encounter:
    """Voids an encounter charted by mistake before it was signed; its draft charge sets go to void."""
    from django.core.exceptions import ValidationError

    from charges.services.charge_sets import charge_set_transition

    if not (reason or "").strip():
        raise ValidationError({"reason": "Give a reason for voiding this encounter."})
    locked = Encounter.objects.select_for_update().get(pk=encounter.pk)
    if locked.status != EncounterStatus.OPEN:
        raise SigningRefused("Only an encounter that was not signed can be voided here.")
    for charge_set in locked.charge_sets.filter(status=Status.DRAFT):
        charge_set_transition(charge_set=charge_set, to_status=Status.VOID, actor=actor, reason=reason)
    locked.status = EncounterStatus.VOID
    locked.updated_by = actor
    locked._change_reason = (reason or "")[:100]  # simple-history keeps 100 characters
    locked.save(update_fields=["status", "updated_by", "updated_at"])
    audit(
        action="encounter.void",
        actor=actor,
        obj=locked,
        center_id=locked.center_id,
        patient_ref=locked.patient_ref,
        detail={"encounter": locked.pk, "reason": reason},
    )
    return locked
