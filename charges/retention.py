"""Retention of charting data (called by the audit app's `manage.py purge`, issue 7 item 6)."""

from __future__ import annotations

import datetime

from django.db.models import Q

from charges.models import ChargeSet, Derivation, Encounter, EncounterStatus
from charges.workflow import Status


def purge_voided_drafts(*, before: datetime.date, dry_run: bool) -> int:
    """Deletes encounters voided before they were signed, whose void is older than `before` (UTC midnight).

    Only encounters that never left draft (every charge set draft or void, no signature) are
    removed, with their administrations, derivations and charge sets; their history rows stay.
    Runs in the caller's transaction; with `dry_run` it only counts.
    """
    cutoff = datetime.datetime.combine(before, datetime.time(0, 0), tzinfo=datetime.UTC)
    candidates = Encounter.objects.filter(status=EncounterStatus.VOID, signed_at__isnull=True, updated_at__lt=cutoff)
    candidates = candidates.exclude(
        pk__in=ChargeSet.objects.filter(~Q(status__in=[Status.DRAFT, Status.VOID])).values("encounter_id")
    )
    ids = list(candidates.values_list("pk", flat=True))
    if dry_run or not ids:
        return len(ids)
    ChargeSet.objects.filter(encounter_id__in=ids).update(derivation=None, proposed_derivation=None)
    for charge_set in ChargeSet.objects.filter(encounter_id__in=ids):
        charge_set.delete()
    Derivation.objects.filter(encounter_id__in=ids).delete()
    for encounter in Encounter.objects.filter(pk__in=ids):
        encounter.delete()
    return len(ids)
