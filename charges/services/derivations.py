"""Engine runs (derivations) and how their lines reach the charge sets (issue 4 items 2 and 4).

Every run is a `Derivation` row holding the engine and codebook versions, the exact input and
output, and the documentation version it read. A derivation made from an older documentation
version than the encounter's current one is discarded (kept, with status `discarded`, but never
applied). Otherwise, for each encounter group, the set takes the lines when it is `draft` or
`ready` and uncorrected; any other set (on hold, approved, exported) keeps its lines and gets the
derivation as `proposed_derivation` for the coder. Void sets are left alone.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import router, transaction
from django.db.models import Case, F, Value, When
from django.db.models.deletion import Collector
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from charges.engine_input import build_engine_input, group_key_for
from charges.models import (
    Administration,
    ChargeLine,
    ChargeSet,
    Derivation,
    DerivationStatus,
    Encounter,
    LineKind,
    LineOrigin,
)
from charges.services import audit
from charges.workflow import LIVE_STATUSES, Status

logger = logging.getLogger(__name__)


def broker_is_eager() -> bool:
    """True when Celery runs tasks in-process (no broker): the preview is computed at once."""
    return bool(getattr(settings, "CELERY_TASK_ALWAYS_EAGER", True))


def rules_book() -> Any:
    """The database codebook's RulesBook (contracts.md §4)."""
    from codebook.selectors import rules_book as db_rules_book

    return db_rules_book()


def _snapshot_id(book: Any) -> str:
    """The codebook snapshot the run used (version and revision token), for INT-04."""
    try:
        from codebook.selectors import codebook_snapshot_id, rules_book_snapshot_id

        # the cached database book knows the revision it was built from (no query, and never the
        # revision of a codebook change committed between reading the book and naming it)
        return (rules_book_snapshot_id(book) or codebook_snapshot_id())[:40]
    except ImportError:
        return str(getattr(book, "version", ""))[:40]


def group_of_line(line: dict, groups: dict[str, str]) -> str:
    """The group key of an output line: its first administration's group ('' for E/M lines)."""
    for adm_id in line.get("administrations") or []:
        if adm_id in groups:
            return groups[adm_id]
    return ""


def groups_of_input(engine_input: dict) -> dict[str, str]:
    return {
        str(a.get("id")): group_key_for(a.get("separate_encounter"))
        for a in engine_input.get("administrations", [])
        if isinstance(a, dict)
    }


@dataclass
class PreparedDerivation:
    encounter_id: int
    documentation_version: int
    engine_input: dict
    output: dict
    engine_version: str
    codebook_version: str
    failure: str = ""


def derivation_prepare(*, encounter_id: int) -> PreparedDerivation:
    """Reads the documentation and runs the engine, outside any lock; never raises for engine trouble."""
    with transaction.atomic():
        encounter = Encounter.objects.select_related("center").get(pk=encounter_id)
        version = encounter.documentation_version
        engine_input = build_engine_input(encounter)
    try:
        from charges.engine import ENGINE_VERSION
        from charges.engine.api import derive_encounter

        book = rules_book()
        output = derive_encounter(engine_input, book)
        return PreparedDerivation(
            encounter_id=encounter_id,
            documentation_version=version,
            engine_input=engine_input,
            output=output,
            engine_version=ENGINE_VERSION,
            codebook_version=_snapshot_id(book),
        )
    except Exception as exc:  # noqa: BLE001 - recorded as a failed derivation, shown as "failed, retry"
        logger.exception("derivation failed for encounter id %s", encounter_id)
        return PreparedDerivation(
            encounter_id=encounter_id,
            documentation_version=version,
            engine_input=engine_input,
            output={},
            engine_version="",
            codebook_version="",
            failure=f"{type(exc).__name__}: {exc}"[:2000],
        )


def _price_rows() -> dict[str, tuple[tuple[datetime.date, datetime.date | None, Decimal | None], ...]]:
    """Every chargemaster price period by code (procedure codes first, then drugs), once per codebook
    revision (`codebook.selectors.revision_cached`: one query, the revision token, when cached)."""
    from codebook.models import Drug, ProcedureCode
    from codebook.selectors import revision_cached

    def build() -> dict[str, tuple[tuple[datetime.date, datetime.date | None, Decimal | None], ...]]:
        rows: dict[str, list[tuple[datetime.date, datetime.date | None, Decimal | None]]] = defaultdict(list)
        for code, vf, vt, price in ProcedureCode.objects.order_by("pk").values_list(
            "code", "valid_from", "valid_to", "price"
        ):
            rows[code].append((vf, vt, price))
        for code, vf, vt, price in Drug.objects.order_by("pk").values_list("hcpcs", "valid_from", "valid_to", "price"):
            rows[code].append((vf, vt, price))
        return {code: tuple(periods) for code, periods in rows.items()}

    return revision_cached("charges.price_rows", build)


def _prices(codes_dates: set[tuple[str, datetime.date]]) -> dict[tuple[str, datetime.date], Decimal | None]:
    """Chargemaster price per unit of each (code, date), from the codebook (procedure codes and drugs)."""
    rows = _price_rows()
    result: dict[tuple[str, datetime.date], Decimal | None] = {}
    for code, day in codes_dates:
        result[(code, day)] = next(
            (p for vf, vt, p in rows.get(code, ()) if vf <= day and (vt is None or day <= vt)), None
        )
    return result


def _line_models(
    charge_set: ChargeSet, derivation: Derivation, lines: list[dict], admin_pks: dict[str, int]
) -> list[tuple[ChargeLine, list[int]]]:
    keys = set()
    parsed = []
    for line in lines:
        day = datetime.date.fromisoformat(line["date"])
        keys.add((line["code"], day))
        parsed.append((line, day))
    prices = _prices(keys)
    out = []
    for position, (line, day) in enumerate(parsed):
        units = int(line.get("units") or 1)
        price = prices.get((line["code"], day))
        amount = (price * units).quantize(Decimal("0.01")) if price is not None else None
        kind = line.get("kind") if line.get("kind") in LineKind.values else LineKind.OTHER
        model = ChargeLine(
            charge_set=charge_set,
            position=position,
            code=line["code"],
            units=max(units, 1),
            modifiers=list(line.get("modifiers") or []),
            service_date=day,
            unit_price=price,
            amount=amount,
            revenue_code=line.get("revenue_code") or "",
            ndc=line.get("ndc") or "",
            kind=kind,
            explanation=line.get("explanation") or "",
            derivation=derivation,
            origin=LineOrigin.ENGINE,
        )
        pks = [admin_pks[a] for a in line.get("administrations") or [] if a in admin_pks]
        out.append((model, pks))
    return out


def _line_key(line: ChargeLine, pks: list[int]) -> tuple:
    return (
        line.code,
        line.units,
        tuple(line.modifiers or []),
        line.service_date,
        line.revenue_code,
        line.ndc,
        line.kind,
        line.explanation,
        line.amount,
        tuple(sorted(pks)),
    )


def _replace_lines(charge_set: ChargeSet, derivation: Derivation, lines: list[dict], admin_pks: dict[str, int]) -> None:
    """Makes the set's engine lines equal to `lines`: unchanged lines are kept (no history noise),
    changed ones are deleted and created (simple-history records both)."""
    pairs = _line_models(charge_set, derivation, lines, admin_pks)
    through = ChargeLine.administrations.through
    existing = list(charge_set.lines.filter(origin=LineOrigin.ENGINE).order_by("position", "pk"))
    links: dict[int, list[int]] = defaultdict(list)
    for line_id, adm_id in through.objects.filter(chargeline__in=[e.pk for e in existing]).values_list(
        "chargeline_id", "administration_id"
    ):
        links[line_id].append(adm_id)
    available: dict[tuple, list[ChargeLine]] = defaultdict(list)
    for old in existing:
        available[_line_key(old, links[old.pk])].append(old)
    keep: list[ChargeLine] = []
    moved: list[tuple[int, int]] = []  # (pk, new position) of kept lines whose position changed
    create: list[tuple[ChargeLine, list[int]]] = []
    for model, pks in pairs:
        match = available.get(_line_key(model, pks))
        if match:
            old = match.pop(0)
            if old.position != model.position:
                moved.append((old.pk, model.position))
            old.position = model.position
            old.derivation = derivation
            keep.append(old)
        else:
            create.append((model, pks))
    stale = [old for group in available.values() for old in group]
    if stale:
        # what `charge_set.lines.filter(pk__in=...).delete()` does (cascades, SET NULL, PROTECT, the
        # pre/post_delete signals: review's export guard, simple-history's "-" rows), minus reading
        # again the lines just read above
        collector = Collector(using=router.db_for_write(ChargeLine))
        collector.collect(stale)
        collector.delete()
    if keep:
        # what `bulk_update(keep, ["position", "derivation"])` writes, in one plain UPDATE: every kept line
        # now comes from this derivation, and only the lines that moved get a new position
        changes: dict[str, Any] = {"derivation": derivation}
        if moved:
            changes["position"] = Case(
                *(When(pk=pk, then=Value(position)) for pk, position in moved),
                default=F("position"),
                output_field=ChargeLine._meta.get_field("position"),
            )
        ChargeLine.objects.filter(pk__in=[old.pk for old in keep]).update(**changes)
    if create:
        created = bulk_create_with_history([m for m, _ in create], ChargeLine)
        new_links = []
        for model, (_, pks) in zip(created, create, strict=True):
            new_links.extend(through(chargeline_id=model.pk, administration_id=pk) for pk in pks)
        if new_links:
            through.objects.bulk_create(new_links)


def derivation_apply(*, derivation: Derivation, encounter: Encounter) -> None:
    """Puts a current derivation's lines on the encounter's charge sets (or proposes them)."""
    groups = groups_of_input(derivation.input)
    by_group: dict[str, list[dict]] = defaultdict(list)
    for line in derivation.output.get("lines", []):
        by_group[group_of_line(line, groups)].append(line)
    wanted = {""} | set(groups.values()) | set(by_group)
    existing = {cs.group_key: cs for cs in ChargeSet.objects.select_for_update().filter(encounter=encounter)}
    admin_pks = {f"A{pk}": pk for pk in Administration.objects.filter(encounter=encounter).values_list("pk", flat=True)}
    for key in sorted(wanted | set(existing)):
        charge_set = existing.get(key)
        if charge_set is None:
            charge_set = ChargeSet.objects.create(encounter=encounter, group_key=key)
        if charge_set.status == Status.VOID:
            continue
        lines = by_group.get(key, [])
        if charge_set.status in LIVE_STATUSES and not charge_set.corrected:
            _replace_lines(charge_set, derivation, lines, admin_pks)
            charge_set.derivation = derivation
            charge_set.proposed_derivation = None
        else:
            charge_set.proposed_derivation = derivation
        charge_set.version += 1
        charge_set.save()


def derivation_record(*, prepared: PreparedDerivation, task_id: str = "") -> Derivation:
    """Stores a prepared run; applies it when its documentation version is still the current one."""
    with transaction.atomic():
        encounter = Encounter.objects.select_for_update().get(pk=prepared.encounter_id)
        output = prepared.output or {}
        derivation = Derivation(
            encounter=encounter,
            engine_version=prepared.engine_version,
            codebook_version=prepared.codebook_version,
            input=prepared.engine_input,
            output=output,
            warnings=list(output.get("warnings") or []),
            errors=list(output.get("errors") or []),
            documentation_version=prepared.documentation_version,
            task_id=task_id or "",
            failure=prepared.failure,
            finished_at=timezone.now(),
        )
        if prepared.failure:
            derivation.status = DerivationStatus.FAILED
        elif prepared.documentation_version < encounter.documentation_version:
            derivation.status = DerivationStatus.DISCARDED
        else:
            derivation.status = DerivationStatus.DONE
        derivation.full_clean(exclude=["encounter"])
        derivation.save()
        if derivation.status == DerivationStatus.DONE:
            derivation_apply(derivation=derivation, encounter=encounter)
        audit(
            action="charges.derive",
            actor=None,
            obj=derivation,
            center_id=encounter.center_id,
            patient_ref=encounter.patient_ref,
            outcome="failure" if derivation.status == DerivationStatus.FAILED else "success",
            detail={
                "encounter": encounter.pk,
                "derivation": derivation.pk,
                "status": derivation.status,
                "documentation_version": derivation.documentation_version,
                "engine_version": derivation.engine_version,
                "codebook_version": derivation.codebook_version,
                "lines": len(output.get("lines") or []),
            },
        )
    return derivation


def derivation_run(*, encounter_id: int, task_id: str = "") -> Derivation:
    """Runs the engine for one encounter and records the result (the Celery task calls only this)."""
    return derivation_record(prepared=derivation_prepare(encounter_id=encounter_id), task_id=task_id)


def derivation_request(*, encounter: Encounter) -> None:
    """Queues a derivation once the current transaction commits (ids only in the task message)."""
    from charges.tasks import derive_encounter_task

    encounter_id = encounter.pk
    transaction.on_commit(lambda: derive_encounter_task.delay(encounter_id))


def derivation_ensure_current(*, encounter: Encounter) -> Derivation:
    """The derivation of the encounter's current documentation, computed now when missing."""
    from charges.selectors import current_derivation

    found = current_derivation(encounter)
    if found is not None and found.status == DerivationStatus.DONE:
        return found
    derivation = derivation_run(encounter_id=encounter.pk)
    encounter.refresh_from_db(fields=["documentation_version"])
    return derivation
