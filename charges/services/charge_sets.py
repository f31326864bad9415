"""The one service that moves a charge set between statuses (issue 4 item 2, `charges.workflow`)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from charges import workflow
from charges.errors import DutySeparation, SigningRefused, StaleVersion, TransitionNotAllowed
from charges.models import Administration, ChargeSet, ChargeSetTransition, Encounter
from charges.services import audit, user_label
from charges.workflow import SOURCE_EXPORT, SOURCE_USER, Status


def actor_roles_at(actor: Any, center_id: int) -> set[str]:
    """The roles the actor holds at the center (none for an anonymous or inactive user)."""
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        return set()
    from accounts.models import Membership

    return set(
        Membership.objects.filter(user=actor, center_id=center_id, center__is_active=True).values_list(
            "role", flat=True
        )
    )


def documented_by(encounter: Encounter, actor: Any) -> bool:
    """Whether `actor` documented the encounter (created, signed, or charted an administration)."""
    if actor is None:
        return False
    if actor.pk in (encounter.created_by_id, encounter.signed_by_id):
        return True
    return (
        Administration.objects.filter(encounter=encounter).filter(documented_by=actor).exists()
        or Administration.objects.filter(encounter=encounter, updated_by=actor).exists()
    )


@transaction.atomic
def charge_set_transition(
    *,
    charge_set: ChargeSet,
    to_status: str,
    actor: Any,
    reason: str = "",
    expected_version: int | None = None,
    source: str = SOURCE_USER,
) -> ChargeSet:
    """Moves `charge_set` to `to_status` if `charges.workflow.TRANSITIONS` allows it for `actor`.

    Raises `StaleVersion` (another user moved it first), `TransitionNotAllowed` (no such move,
    or not for this actor's roles, or a wrong `source`), `DutySeparation` (the documenter
    approving), `SigningRefused` (draft -> ready while the encounter cannot be signed), and
    `ValidationError` (a reason is required). Records a `ChargeSetTransition` and an audit row.
    `source="export"` is for the export service only.
    """
    locked = ChargeSet.objects.select_for_update().get(pk=charge_set.pk)
    if expected_version is not None and locked.version != expected_version:
        raise StaleVersion(changed_by=user_label(locked.updated_by), changed_at=locked.updated_at)
    from_status = locked.status
    to_status = str(to_status)
    move = workflow.move_for(from_status, to_status)
    names = dict(Status.choices)
    if move is None:
        raise TransitionNotAllowed(
            f"A charge set cannot go from {names.get(from_status, from_status)} to {names.get(to_status, to_status)}.",
            from_status=from_status,
            to_status=to_status,
        )
    if move.source != source:
        raise TransitionNotAllowed(
            "Only the export service may mark a charge set exported."
            if move.source == SOURCE_EXPORT
            else "This move is not made by the export service.",
            from_status=from_status,
            to_status=to_status,
        )
    encounter = locked.encounter
    roles = actor_roles_at(actor, encounter.center_id) & move.roles
    if not roles and not (source == SOURCE_EXPORT and actor is None):
        raise TransitionNotAllowed(
            f"Your role may not move a charge set from {names[from_status]} to {names[to_status]}.",
            from_status=from_status,
            to_status=to_status,
        )
    if move.reason_required and not (reason or "").strip():
        raise ValidationError({"reason": "Give a reason for this change."})
    if move.not_documenter and documented_by(encounter, actor):
        raise DutySeparation("You documented this encounter, so another coder must approve its charges.")
    if move.requires_signable:
        from charges.services.encounters import signing_problems

        problems = signing_problems(encounter)
        if problems:
            raise SigningRefused(" ".join(problems), from_status=from_status, to_status=to_status)
    now = timezone.now()
    locked.status = to_status
    locked.version += 1
    locked.updated_by = actor
    locked.status_changed_at = now
    locked._change_reason = (reason or move.label)[
        :100
    ]  # simple-history keeps 100 characters; the full reason is below
    locked.save()
    ChargeSetTransition.objects.create(
        charge_set=locked,
        from_status=from_status,
        to_status=to_status,
        actor=actor,
        reason=reason or "",
        source=source,
    )
    audit(
        action="charge_set.transition",
        actor=actor,
        obj=locked,
        center_id=encounter.center_id,
        patient_ref=encounter.patient_ref,
        detail={
            "charge_set": locked.pk,
            "from": from_status,
            "to": to_status,
            "reason": reason or "",
            "source": source,
            "version": locked.version,
        },
    )
    charge_set.status = locked.status
    charge_set.version = locked.version
    charge_set.status_changed_at = now
    charge_set.updated_by = actor
    return locked
