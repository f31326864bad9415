"""Reads of the charges app. Views and services read through these (HackSoft selectors)."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from django.db.models import Prefetch, QuerySet

from charges.drug_search import DrugEntry
from charges.models import (
    Administration,
    ChargeLine,
    ChargeSet,
    Derivation,
    DerivationStatus,
    Encounter,
    EncounterStatus,
    Pause,
)
from charges.models.encounters import TIMED_ROUTES


def encounters_for(user: Any, *roles: str) -> QuerySet[Encounter]:
    """Encounters of the centers where the user holds one of `roles` (another center's: none)."""
    from accounts.access import scoped

    return scoped(Encounter.objects.all(), user, *roles)


def board_encounters(*, user: Any, day: datetime.date, center_ids: list[int] | None = None) -> QuerySet[Encounter]:
    """Today's encounters at the nurse's centers, with their administrations for the running flag."""
    from accounts.roles import Role

    qs = encounters_for(user, Role.NURSE).filter(service_date=day).exclude(status=EncounterStatus.VOID)
    if center_ids is not None:
        qs = qs.filter(center_id__in=center_ids)
    return qs.select_related("center").prefetch_related(
        Prefetch("administrations", queryset=Administration.objects.order_by("start_at", "pk"))
    )


def running_administrations(*, user: Any, center_ids: list[int] | None = None) -> QuerySet[Administration]:
    """Infusions still running (no stop time) at the nurse's centers, any date, oldest first."""
    from accounts.access import centers_for
    from accounts.roles import Role

    qs = (
        Administration.objects.filter(
            encounter__center__in=centers_for(user, Role.NURSE),
            stop_at__isnull=True,
            route__in=list(TIMED_ROUTES),
        )
        .exclude(encounter__status=EncounterStatus.VOID)
        .select_related("encounter", "encounter__center")
        .order_by("start_at", "pk")
    )
    if center_ids is not None:
        qs = qs.filter(encounter__center_id__in=center_ids)
    return qs


def encounter_page_queryset(user: Any, *roles: str) -> QuerySet[Encounter]:
    """The encounter with everything its page shows, in a constant number of queries."""
    return encounters_for(user, *roles).select_related("center", "signed_by", "created_by", "updated_by")


def encounter_reloaded(encounter: Encounter) -> Encounter:
    """The encounter read again (after a save), with what its page shows, in one query."""
    return Encounter.objects.select_related("center", "signed_by", "created_by", "updated_by").get(pk=encounter.pk)


def encounter_administrations(encounter: Encounter) -> list[Administration]:
    return list(
        Administration.objects.filter(encounter=encounter)
        .select_related("documented_by", "updated_by")
        .prefetch_related(Prefetch("pauses", queryset=Pause.objects.order_by("start_at", "pk")))
        .order_by("start_at", "pk")
    )


def encounter_charge_sets(encounter: Encounter) -> list[ChargeSet]:
    return list(
        ChargeSet.objects.filter(encounter=encounter)
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=ChargeLine.objects.order_by("position", "pk").prefetch_related("administrations"),
            )
        )
        .order_by("group_key")
    )


def latest_derivation(encounter: Encounter) -> Derivation | None:
    """The newest derivation attempt of any status (pending/done/failed/discarded)."""
    return (
        Derivation.objects.filter(encounter=encounter)
        .exclude(status=DerivationStatus.DISCARDED)
        .defer("input")
        .order_by("-documentation_version", "-created_at", "-pk")
        .first()
    )


def current_derivation(encounter: Encounter) -> Derivation | None:
    """The newest derivation made from the encounter's current documentation, if any."""
    return (
        Derivation.objects.filter(encounter=encounter, documentation_version=encounter.documentation_version)
        .exclude(status=DerivationStatus.DISCARDED)
        .order_by("-created_at", "-pk")
        .first()
    )


# --- the drug catalog (codebook) -----------------------------------------------------------------


def _entry(row: Any) -> DrugEntry:
    synonyms = tuple(s.strip() for s in (row.synonyms or "").split("|") if s.strip())
    return DrugEntry(
        hcpcs=row.hcpcs,
        name=row.name,
        synonyms=synonyms,
        billing_unit=row.billing_unit or "",
        billing_unit_amount=row.billing_unit_amount,
        category=row.category or "",
        container=row.container or "",
        price=row.price if isinstance(row.price, Decimal) else None,
        ingredient=row.ingredient or "",
    )


def _drug_catalog_rows(day: datetime.date) -> tuple[DrugEntry, ...]:
    from codebook.models import Drug

    rows = Drug.objects.in_force(day).order_by("hcpcs", "-valid_from")
    seen: dict[str, DrugEntry] = {}
    for row in rows:
        seen.setdefault(row.hcpcs, _entry(row))
    return tuple(seen.values())


def _catalog_index(on: datetime.date | None) -> tuple[tuple[DrugEntry, ...], dict[str, DrugEntry]]:
    """The catalog of `on` and the same entries by HCPCS, built once per codebook revision and day
    (codebook.selectors.revision_cached: one query, the revision token, when cached)."""
    from django.utils import timezone

    from codebook.selectors import revision_cached

    day = on or timezone.localdate()

    def build() -> tuple[tuple[DrugEntry, ...], dict[str, DrugEntry]]:
        entries = _drug_catalog_rows(day)
        return entries, {e.hcpcs: e for e in entries}

    return revision_cached(("charges.drug_catalog", day), build)


def drug_catalog(on: datetime.date | None = None) -> list[DrugEntry]:
    """Codebook drugs in force on `on` (today when None), one entry per HCPCS (the newest version)."""
    return list(_catalog_index(on)[0])


def drug_by_hcpcs(hcpcs: str, on: datetime.date) -> DrugEntry | None:
    """The catalog entry of `hcpcs` on `on` (the newest version in force), or None."""
    return _catalog_index(on)[1].get(hcpcs)
