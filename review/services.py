"""Coder review services (issue 5): every action writes its change and its audit row in one transaction.

Rules enforced here (views only translate the errors):
- Optimistic locking: every action on a set takes `expected_version`; a mismatch raises
  `StaleVersion` ("changed by X at T, reload") and nothing changes.
- Roles: review actions need the coder role at the set's center (`RoleRefused`); answering a
  query needs the nurse role there; the export needs manager or admin (or the system, actor None).
- Duty separation: approval goes through `charge_set_transition`, which refuses the documenter
  (`DutySeparation`); a correction after export is a billing act too and is refused the same way.
- A query holds the set (`on_hold`) until it is closed; approval and release are refused while
  one is open (`QueryOpen`), and approval while a new derivation waits (`ProposalPending`).
- Lines in an export batch are never edited: a correction after export creates a credit line for
  the old one (transaction type credit, positive units) and a new charge; both go into the next
  batch (`export_batch_create`).
"""

from __future__ import annotations

import datetime
import re
import secrets
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone

from charges.errors import StaleVersion, TransitionNotAllowed
from charges.models import ChargeLine, ChargeSet, LineKind, LineOrigin, TransactionType
from charges.services.charge_sets import actor_roles_at, charge_set_transition, documented_by
from charges.workflow import SOURCE_EXPORT, Status
from review.errors import DutySeparation, LineImmutable, ProposalPending, QueryOpen, RoleRefused
from review.models import (
    OPEN_QUERY_STATUSES,
    CorrectionAction,
    DocumentationQuery,
    ExportBatch,
    ExportBatchItem,
    LineCorrection,
    PatientRef,
    QueryAnswer,
    QueryStatus,
)

CODER = "coder"
NURSE = "nurse"
MANAGER = "manager"
ADMIN = "admin"
#: statuses in which a coder may change the lines in place (approved is reopened first)
EDITABLE_STATUSES = frozenset({Status.READY, Status.ON_HOLD, Status.APPROVED})
MODIFIER_PATTERN = re.compile(r"^[A-Z0-9]{2}$")
MAX_UNITS = 9999
MAX_MODIFIERS = 4
CENT = Decimal("0.01")


# --- helpers ---------------------------------------------------------------------------------------


def _audit(*, action: str, actor: Any, obj: Any, charge_set: ChargeSet | None = None, **kwargs: Any) -> None:
    from audit.services import audit_record

    if charge_set is not None:
        encounter = charge_set.encounter
        kwargs.setdefault("center_id", encounter.center_id)
        kwargs.setdefault("patient_ref", encounter.patient_ref)
    audit_record(action=action, actor=actor, obj=obj, **kwargs)


def _user_label(user: Any) -> str:
    from charges.services import user_label

    return user_label(user)


def _require_role(actor: Any, center_id: int, *roles: str) -> None:
    if not (actor_roles_at(actor, center_id) & set(roles)):
        names = " or ".join(roles)
        raise RoleRefused(f"This action needs the {names} role at this center.")


def _lock(charge_set: ChargeSet, expected_version: int | None) -> ChargeSet:
    """The set, row-locked, with the optimistic-lock check."""
    # updated_by is read after the lock, not joined: a row re-read after waiting for the lock on
    # PostgreSQL keeps the joined rows of its first read, which would name the wrong user.
    locked = ChargeSet.objects.select_for_update(of=("self",)).select_related("encounter").get(pk=charge_set.pk)
    if expected_version is not None and locked.version != int(expected_version):
        raise StaleVersion(changed_by=_user_label(locked.updated_by), changed_at=locked.updated_at)
    return locked


def _touch(locked: ChargeSet, actor: Any, reason: str) -> None:
    """Bumps the set's version after a change to its lines (others' forms become stale)."""
    locked.version += 1
    locked.updated_by = actor
    locked._change_reason = reason[:100]
    locked.save(update_fields=["version", "updated_by", "updated_at", "corrected", "derivation", "proposed_derivation"])


def _sync(original: ChargeSet, locked: ChargeSet) -> None:
    """Copies the new state onto the caller's instance."""
    for name in ("status", "version", "corrected", "updated_by_id", "updated_at", "status_changed_at"):
        setattr(original, name, getattr(locked, name))
    original.derivation_id = locked.derivation_id
    original.proposed_derivation_id = locked.proposed_derivation_id


def _record_correction(
    original: ChargeSet,
    locked: ChargeSet,
    actor: Any,
    *,
    action: str,
    audit_action: str,
    reason: str,
    exported: bool,
    detail: dict[str, Any],
    **fields: Any,
) -> LineCorrection:
    """The common end of every line correction: the correction row, the set's new version, the audit row
    (all in the caller's transaction) and the caller's instance brought up to date."""
    correction = LineCorrection.objects.create(
        charge_set=locked, action=action, reason=reason, after_export=exported, actor=actor, **fields
    )
    _touch(locked, actor, reason)
    _audit(action=audit_action, actor=actor, obj=correction, charge_set=locked, detail=detail)
    _sync(original, locked)
    return correction


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": "Give a reason for this correction."})
    return reason


def has_open_queries(charge_set: ChargeSet) -> bool:
    return DocumentationQuery.objects.filter(charge_set=charge_set, status__in=OPEN_QUERY_STATUSES).exists()


def is_exported_line(line: ChargeLine) -> bool:
    return ExportBatchItem.objects.filter(charge_line_id=line.pk).exists()


def line_snapshot(line: ChargeLine) -> dict[str, Any]:
    """The line as JSON (kept beside the coder's in `LineCorrection`)."""
    return {
        "id": line.pk,
        "code": line.code,
        "units": line.units,
        "modifiers": list(line.modifiers or []),
        "date": line.service_date.isoformat(),
        "amount": None if line.amount is None else str(line.amount),
        "unit_price": None if line.unit_price is None else str(line.unit_price),
        "revenue_code": line.revenue_code,
        "kind": line.kind,
        "origin": line.origin,
        "transaction_type": line.transaction_type,
        "explanation": line.explanation,
    }


def clean_units(value: Any) -> int:
    try:
        units = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError({"units": "Units must be a whole number, 1 or more."}) from None
    if units < 1 or units > MAX_UNITS:
        raise ValidationError({"units": f"Units must be between 1 and {MAX_UNITS}."})
    return units


def clean_modifiers(value: Any, on: datetime.date | None = None) -> list[str]:
    """Modifiers from a list or text ("25, JZ" or "25-JZ"): two letters/digits each, known to the codebook."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[\s,;\-]+", value.strip().upper()) if p]
    else:
        parts = [str(p).strip().upper() for p in (value or []) if str(p).strip()]
    bad = [p for p in parts if not MODIFIER_PATTERN.match(p)]
    if bad:
        raise ValidationError({"modifiers": f"Not a modifier: {', '.join(bad)} (two letters or digits each)."})
    if len(parts) > MAX_MODIFIERS:
        raise ValidationError({"modifiers": f"At most {MAX_MODIFIERS} modifiers on a line."})
    if len(set(parts)) != len(parts):
        raise ValidationError({"modifiers": "A modifier is given twice."})
    if parts and on is not None:
        from codebook.models import Modifier

        known_any = Modifier.objects.exists()
        if known_any:
            known = set(Modifier.objects.in_force(on).filter(code__in=parts).values_list("code", flat=True))
            unknown = [p for p in parts if p not in known]
            if unknown:
                raise ValidationError({"modifiers": f"Unknown modifier for this date: {', '.join(unknown)}."})
    return parts


def code_price(code: str, day: datetime.date) -> tuple[Decimal | None, str, str]:
    """(price per unit, line kind, revenue code) of a procedure code or drug HCPCS in force on `day`."""
    from codebook.models import Drug, ProcedureCode

    proc = ProcedureCode.objects.in_force(day).filter(code=code).order_by("-valid_from").first()
    if proc is not None:
        kind = LineKind.EM if proc.kind == "em" else LineKind.ADMINISTRATION
        return _cents(proc.price), kind, proc.revenue_code or ""
    drug = Drug.objects.in_force(day).filter(hcpcs=code).order_by("-valid_from").first()
    if drug is not None:
        return _cents(drug.price), LineKind.DRUG, ""
    raise ValidationError({"code": f"{code} is not in the codebook for {day.isoformat()}."})


def _cents(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(value).quantize(CENT)


def _amount(price: Decimal | None, units: int) -> Decimal | None:
    return None if price is None else (Decimal(price) * units).quantize(CENT)


def _next_position(charge_set: ChargeSet) -> int:
    top = ChargeLine.objects.filter(charge_set=charge_set).aggregate(m=Max("position"))["m"]
    return 0 if top is None else top + 1


def _new_line(charge_set: ChargeSet, actor: Any, **fields: Any) -> ChargeLine:
    line = ChargeLine(charge_set=charge_set, position=_next_position(charge_set), created_by=actor, **fields)
    line.full_clean(exclude=["charge_set", "derivation", "replaces", "created_by"])
    line.save()
    return line


def _credit_and_rebill(
    *, old: ChargeLine, actor: Any, reason: str, units: int | None = None, modifiers: list[str] | None = None
) -> tuple[ChargeLine, ChargeLine | None]:
    """After export: a credit line for `old` and (unless removing) a new charge; both unbatched."""
    if ChargeLine.objects.filter(replaces=old, transaction_type=TransactionType.CREDIT).exists():
        raise LineImmutable("This line has already been credited.")
    if old.transaction_type == TransactionType.CREDIT:
        raise LineImmutable("A credit line cannot be corrected.")
    credit = _new_line(
        old.charge_set,
        actor,
        code=old.code,
        units=old.units,
        modifiers=list(old.modifiers or []),
        service_date=old.service_date,
        unit_price=old.unit_price,
        amount=old.amount,
        revenue_code=old.revenue_code,
        ndc=old.ndc,
        kind=old.kind,
        explanation=f"Credit of line {old.pk}: {reason}",
        origin=LineOrigin.CODER,
        replaces=old,
        transaction_type=TransactionType.CREDIT,
        correction_reason=reason,
    )
    credit.administrations.set(old.administrations.all())
    if units is None and modifiers is None:
        return credit, None
    new_units = old.units if units is None else units
    rebill = _new_line(
        old.charge_set,
        actor,
        code=old.code,
        units=new_units,
        modifiers=list(old.modifiers or []) if modifiers is None else modifiers,
        service_date=old.service_date,
        unit_price=old.unit_price,
        amount=_amount(old.unit_price, new_units),
        revenue_code=old.revenue_code,
        ndc=old.ndc,
        kind=old.kind,
        explanation=f"Rebill of line {old.pk} ({reason}). {old.explanation}".strip(),
        origin=LineOrigin.CODER,
        replaces=old,
        transaction_type=TransactionType.CHARGE,
        correction_reason=reason,
    )
    rebill.administrations.set(old.administrations.all())
    return credit, rebill


def _check_post_export_actor(locked: ChargeSet, actor: Any) -> None:
    if documented_by(locked.encounter, actor):
        raise DutySeparation("You documented this encounter, so another coder must correct its exported charges.")


def _prepare_edit(locked: ChargeSet, actor: Any, reason: str) -> bool:
    """Checks the set may be edited; reopens an approved set. Returns True when the set is exported."""
    if locked.status == Status.EXPORTED:
        _check_post_export_actor(locked, actor)
        return True
    if locked.status not in EDITABLE_STATUSES:
        names = dict(Status.choices)
        raise TransitionNotAllowed(
            f"The lines of a {names.get(locked.status, locked.status).lower()} charge set cannot be corrected.",
            from_status=locked.status,
            to_status=locked.status,
        )
    if locked.status == Status.APPROVED:
        charge_set_transition(
            charge_set=locked, to_status=Status.READY, actor=actor, reason=f"Reopened to correct: {reason}"
        )
    return False


# --- transitions ---------------------------------------------------------------------------------------


@transaction.atomic
def review_approve(*, charge_set: ChargeSet, actor: Any, expected_version: int | None = None) -> ChargeSet:
    """ready -> approved (a coder who did not document the encounter; no open query, no waiting proposal)."""
    locked = _lock(charge_set, expected_version)
    _require_role(actor, locked.encounter.center_id, CODER)
    if has_open_queries(locked):
        raise QueryOpen("A documentation query is still open: close it before approving.")
    if locked.proposed_derivation_id is not None:
        raise ProposalPending("New lines wait after a documentation change: accept them before approving.")
    result = charge_set_transition(charge_set=locked, to_status=Status.APPROVED, actor=actor)
    _sync(charge_set, result)
    return result


@transaction.atomic
def review_hold(*, charge_set: ChargeSet, actor: Any, reason: str, expected_version: int | None = None) -> ChargeSet:
    """ready -> on_hold with a reason."""
    locked = _lock(charge_set, expected_version)
    _require_role(actor, locked.encounter.center_id, CODER)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Give a reason for the hold."})
    result = charge_set_transition(charge_set=locked, to_status=Status.ON_HOLD, actor=actor, reason=reason.strip())
    _sync(charge_set, result)
    return result


@transaction.atomic
def review_release(*, charge_set: ChargeSet, actor: Any, reason: str, expected_version: int | None = None) -> ChargeSet:
    """on_hold -> ready with a reason; refused while a documentation query is open."""
    locked = _lock(charge_set, expected_version)
    _require_role(actor, locked.encounter.center_id, CODER)
    if not (reason or "").strip():
        raise ValidationError({"reason": "Give a reason for the release."})
    if locked.status != Status.ON_HOLD:
        raise TransitionNotAllowed(
            "Only a charge set on hold can be released.", from_status=locked.status, to_status=Status.READY
        )
    if has_open_queries(locked):
        raise QueryOpen("A documentation query is still open: the set stays on hold until it is closed.")
    result = charge_set_transition(charge_set=locked, to_status=Status.READY, actor=actor, reason=reason.strip())
    _sync(charge_set, result)
    return result


# --- line corrections ------------------------------------------------------------------------------------


@transaction.atomic
def line_correct(
    *,
    line: ChargeLine,
    actor: Any,
    reason: str,
    units: Any = None,
    modifiers: Any = None,
    expected_version: int | None = None,
) -> LineCorrection:
    """Changes a line's units and/or modifiers with a mandatory reason, keeping the line as it was.

    Before export the line is edited in place (origin coder) and the set is marked corrected (an
    approved set goes back to ready). After export the line is credited and rebilled.
    """
    locked = _lock(line.charge_set, expected_version)
    _require_role(actor, locked.encounter.center_id, CODER)
    reason = _require_reason(reason)
    current = ChargeLine.objects.select_for_update().get(pk=line.pk, charge_set=locked)
    new_units = current.units if units in (None, "") else clean_units(units)
    new_modifiers = (
        list(current.modifiers or []) if modifiers is None else clean_modifiers(modifiers, current.service_date)
    )
    if new_units == current.units and new_modifiers == list(current.modifiers or []):
        raise ValidationError({"units": "Nothing changed: give other units or modifiers."})
    before = line_snapshot(current)
    exported = _prepare_edit(locked, actor, reason)
    credit = None
    if exported or is_exported_line(current):
        credit, rebill = _credit_and_rebill(
            old=current, actor=actor, reason=reason, units=new_units, modifiers=new_modifiers
        )
        target = rebill
        exported = True
    else:
        current.units = new_units
        current.modifiers = new_modifiers
        current.amount = _amount(current.unit_price, new_units)
        current.origin = LineOrigin.CODER
        current.correction_reason = reason
        current._change_reason = reason[:100]
        current.full_clean(exclude=["charge_set", "derivation", "replaces", "created_by"])
        current.save()
        target = current
        locked.corrected = True
    return _record_correction(
        line.charge_set,
        locked,
        actor,
        action=CorrectionAction.CORRECT,
        audit_action="review.line_correct",
        reason=reason,
        exported=exported,
        detail={
            "charge_set": locked.pk,
            "line": before["id"],
            "before": {"units": before["units"], "modifiers": before["modifiers"]},
            "after": {"units": new_units, "modifiers": new_modifiers},
            "after_export": exported,
            "reason": reason,
        },
        line=target,
        credit_line=credit,
        before=before,
        after=line_snapshot(target),
    )


@transaction.atomic
def line_add(
    *,
    charge_set: ChargeSet,
    actor: Any,
    code: str,
    units: Any,
    reason: str,
    modifiers: Any = None,
    service_date: datetime.date | None = None,
    expected_version: int | None = None,
) -> LineCorrection:
    """Adds a coder's line (a code the engine cannot know of) with a mandatory reason."""
    locked = _lock(charge_set, expected_version)
    _require_role(actor, locked.encounter.center_id, CODER)
    reason = _require_reason(reason)
    code = (code or "").strip().upper()
    if not code:
        raise ValidationError({"code": "Give the code to add."})
    day = service_date or locked.encounter.service_date
    units = clean_units(units)
    mods = clean_modifiers(modifiers, day)
    price, kind, revenue = code_price(code, day)
    exported = _prepare_edit(locked, actor, reason)
    line = _new_line(
        locked,
        actor,
        code=code,
        units=units,
        modifiers=mods,
        service_date=day,
        unit_price=price,
        amount=_amount(price, units),
        revenue_code=revenue,
        kind=kind,
        explanation=f"Added by the coder: {reason}",
        origin=LineOrigin.CODER,
        transaction_type=TransactionType.CHARGE,
        correction_reason=reason,
    )
    if not exported:
        locked.corrected = True
    return _record_correction(
        charge_set,
        locked,
        actor,
        action=CorrectionAction.ADD,
        audit_action="review.line_add",
        reason=reason,
        exported=exported,
        detail={"charge_set": locked.pk, "line": line.pk, "code": code, "units": units, "reason": reason},
        line=line,
        before=None,
        after=line_snapshot(line),
    )


@transaction.atomic
def line_remove(*, line: ChargeLine, actor: Any, reason: str, expected_version: int | None = None) -> LineCorrection:
    """Removes a line with a mandatory reason: deleted before export (kept in the correction), credited after."""
    locked = _lock(line.charge_set, expected_version)
    _require_role(actor, locked.encounter.center_id, CODER)
    reason = _require_reason(reason)
    current = ChargeLine.objects.select_for_update().get(pk=line.pk, charge_set=locked)
    before = line_snapshot(current)
    exported = _prepare_edit(locked, actor, reason)
    credit = None
    if exported or is_exported_line(current):
        credit, _ = _credit_and_rebill(old=current, actor=actor, reason=reason)
        exported = True
    else:
        current._change_reason = reason[:100]
        current.delete()
        locked.corrected = True
    return _record_correction(
        line.charge_set,
        locked,
        actor,
        action=CorrectionAction.REMOVE,
        audit_action="review.line_remove",
        reason=reason,
        exported=exported,
        detail={"charge_set": locked.pk, "line": before["id"], "code": before["code"], "reason": reason},
        line=None,
        credit_line=credit,
        before=before,
        after=None,
    )


def active_lines(charge_set: ChargeSet) -> list[ChargeLine]:
    """The charges in force: charge lines without a credit against them (credits themselves excluded)."""
    return list(
        ChargeLine.objects.filter(charge_set=charge_set, transaction_type=TransactionType.CHARGE)
        .exclude(replaced_by__transaction_type=TransactionType.CREDIT)
        .order_by("position", "pk")
    )


def _line_key(code: str, units: int, modifiers: Iterable[str], day: str) -> tuple:
    return (code, int(units), tuple(modifiers or ()), day)


def _proposed_key(data: dict) -> tuple:
    return _line_key(data["code"], data.get("units") or 1, data.get("modifiers"), data["date"])


@transaction.atomic
def proposal_accept(*, charge_set: ChargeSet, actor: Any, expected_version: int | None = None) -> LineCorrection:
    """ "Accept new lines": the waiting derivation's lines become the set's lines.

    Before export the old lines (engine and coder) are replaced and the set is uncorrected again
    (an approved set goes back to ready). After export, old lines that the new derivation does not
    repeat identically are credited, and the new ones are added as charges for the next batch.
    """
    locked = _lock(charge_set, expected_version)
    _require_role(actor, locked.encounter.center_id, CODER)
    proposal = locked.proposed_derivation
    if proposal is None:
        raise TransitionNotAllowed("No new lines are waiting for this charge set.")
    reason = "New lines accepted after a documentation change"
    new_lines = proposal.lines_for_group(locked.group_key)
    exported = _prepare_edit(locked, actor, reason)
    old = active_lines(locked)
    before = [line_snapshot(line) for line in old]
    from charges.models import Administration

    admin_pks = {
        f"A{pk}": pk for pk in Administration.objects.filter(encounter=locked.encounter).values_list("pk", flat=True)
    }
    to_create = list(new_lines)
    if exported:
        remaining = list(to_create)
        for line in old:
            key = _line_key(line.code, line.units, line.modifiers, line.service_date.isoformat())
            match = next((n for n in remaining if _proposed_key(n) == key), None)
            if match is not None:
                remaining.remove(match)
            else:
                _credit_and_rebill(old=line, actor=actor, reason=reason)
        to_create = remaining
    else:
        for line in ChargeLine.objects.filter(charge_set=locked):
            line._change_reason = reason[:100]
            line.delete()
    created = []
    for data in to_create:
        day = datetime.date.fromisoformat(data["date"])
        units = max(int(data.get("units") or 1), 1)
        try:
            price, _, _ = code_price(data["code"], day)
        except ValidationError:
            price = None
        kind = data.get("kind") if data.get("kind") in LineKind.values else LineKind.OTHER
        line = _new_line(
            locked,
            actor,
            code=data["code"],
            units=units,
            modifiers=list(data.get("modifiers") or []),
            service_date=day,
            unit_price=price,
            amount=_amount(price, units),
            revenue_code=data.get("revenue_code") or "",
            ndc=data.get("ndc") or "",
            kind=kind,
            explanation=data.get("explanation") or "",
            derivation=proposal,
            origin=LineOrigin.ENGINE,
            transaction_type=TransactionType.CHARGE,
            correction_reason=reason if exported else "",
        )
        pks = [admin_pks[a] for a in data.get("administrations") or [] if a in admin_pks]
        if pks:
            line.administrations.set(pks)
        created.append(line)
    locked.derivation = proposal
    locked.proposed_derivation = None
    if not exported:
        locked.corrected = False
    return _record_correction(
        charge_set,
        locked,
        actor,
        action=CorrectionAction.ACCEPT,
        audit_action="review.proposal_accept",
        reason=reason,
        exported=exported,
        before=before,
        after=[line_snapshot(line) for line in created],
        detail={
            "charge_set": locked.pk,
            "derivation": proposal.pk,
            "old_lines": len(before),
            "new_lines": len(created),
            "after_export": exported,
        },
    )


# --- documentation queries ----------------------------------------------------------------------------------


@transaction.atomic
def query_create(
    *,
    charge_set: ChargeSet,
    actor: Any,
    question: str,
    administration: Any = None,
    addressed_to: Any = None,
    expected_version: int | None = None,
) -> DocumentationQuery:
    """ "Query nurse": asks the documenting nurse a question; the set goes on hold until it is closed."""
    locked = _lock(charge_set, expected_version)
    encounter = locked.encounter
    _require_role(actor, encounter.center_id, CODER)
    question = (question or "").strip()
    if not question:
        raise ValidationError({"question": "Write the question for the nurse."})
    if administration is not None and administration.encounter_id != encounter.pk:
        raise ValidationError({"administration": "That administration belongs to another encounter."})
    if locked.status == Status.VOID:
        raise TransitionNotAllowed("A void charge set cannot be queried.")
    if addressed_to is None:
        addressed_to = _documenting_nurse(encounter, administration)
    query = DocumentationQuery(
        charge_set=locked,
        encounter=encounter,
        administration=administration,
        question=question,
        asked_by=actor,
        addressed_to=addressed_to,
    )
    query.full_clean(exclude=["charge_set", "encounter", "administration", "asked_by", "addressed_to"])
    query.save()
    hold_reason = f"Query to the nurse: {question}"[:500]
    if locked.status == Status.APPROVED:
        locked = charge_set_transition(charge_set=locked, to_status=Status.READY, actor=actor, reason=hold_reason)
    if locked.status == Status.READY:
        locked = charge_set_transition(charge_set=locked, to_status=Status.ON_HOLD, actor=actor, reason=hold_reason)
    else:
        _touch(locked, actor, "query")
    _audit(
        action="review.query_create",
        actor=actor,
        obj=query,
        charge_set=locked,
        detail={"charge_set": locked.pk, "query": query.pk, "addressed_to": getattr(addressed_to, "pk", None)},
    )
    _sync(charge_set, locked)
    return query


def _documenting_nurse(encounter: Any, administration: Any = None) -> Any:
    """Who documented it: the administration's documenter, else who signed or created the encounter."""
    for user in (
        getattr(administration, "documented_by", None),
        encounter.signed_by,
        encounter.created_by,
    ):
        if user is not None:
            return user
    return None


@transaction.atomic
def query_answer(*, query: DocumentationQuery, actor: Any, answer: str) -> QueryAnswer:
    """The nurse answers (she may also correct the documentation on the encounter page)."""
    locked = (
        DocumentationQuery.objects.select_for_update(of=("self",))
        .select_related("charge_set__encounter")
        .get(pk=query.pk)
    )
    encounter = locked.charge_set.encounter
    _require_role(actor, encounter.center_id, NURSE)
    text = (answer or "").strip()
    if not text:
        raise ValidationError({"answer": "Write your answer."})
    if locked.status == QueryStatus.CLOSED:
        raise TransitionNotAllowed("This query is already closed.")
    reply = QueryAnswer(query=locked, author=actor, text=text)
    reply.full_clean(exclude=["query", "author"])
    reply.save()
    locked.status = QueryStatus.ANSWERED
    locked.save(update_fields=["status"])
    _audit(
        action="review.query_answer",
        actor=actor,
        obj=reply,
        charge_set=locked.charge_set,
        detail={"query": locked.pk, "charge_set": locked.charge_set_id},
    )
    query.status = locked.status
    return reply


@transaction.atomic
def query_close(
    *, query: DocumentationQuery, actor: Any, note: str = "", expected_version: int | None = None
) -> DocumentationQuery:
    """The coder closes a query; when no other query is open the held set goes back to ready."""
    locked_set = _lock(query.charge_set, expected_version)
    _require_role(actor, locked_set.encounter.center_id, CODER)
    locked = DocumentationQuery.objects.select_for_update().get(pk=query.pk)
    if locked.status == QueryStatus.CLOSED:
        raise TransitionNotAllowed("This query is already closed.")
    locked.status = QueryStatus.CLOSED
    locked.closed_by = actor
    locked.closed_at = timezone.now()
    locked.close_note = (note or "").strip()
    locked.save(update_fields=["status", "closed_by", "closed_at", "close_note"])
    released = False
    if locked_set.status == Status.ON_HOLD and not has_open_queries(locked_set):
        locked_set = charge_set_transition(
            charge_set=locked_set,
            to_status=Status.READY,
            actor=actor,
            reason=f"Query closed: {locked.close_note or locked.question}"[:500],
        )
        released = True
    else:
        _touch(locked_set, actor, "query closed")
    _audit(
        action="review.query_close",
        actor=actor,
        obj=locked,
        charge_set=locked_set,
        detail={"query": locked.pk, "charge_set": locked_set.pk, "released": released},
    )
    query.status = locked.status
    query.closed_at = locked.closed_at
    _sync(query.charge_set, locked_set)
    return locked


# --- export batches --------------------------------------------------------------------------------------


@transaction.atomic
def export_batch_create(*, center: Any, date: datetime.date, actor: Any) -> ExportBatch | None:
    """Moves the center's approved, not yet exported sets (encounters up to `date`) into a new batch.

    The batch holds their lines plus every unbatched credit and rebill of already exported sets.
    Numbered per center (1, 2, ...). Returns None when there is nothing new (closing the same day
    twice exports once). `actor` is a manager or admin of the center, or None for the nightly task.
    """
    from accounts.models import Center

    locked_center = Center.objects.select_for_update().get(pk=center.pk)
    if actor is not None:
        _require_role(actor, locked_center.pk, MANAGER, ADMIN)
    sets = list(
        ChargeSet.objects.select_for_update(of=("self",))
        .filter(encounter__center=locked_center, encounter__service_date__lte=date, status=Status.APPROVED)
        .select_related("encounter")
        .order_by("encounter__service_date", "encounter_id", "group_key", "pk")
    )
    for charge_set in sets:
        charge_set_transition(charge_set=charge_set, to_status=Status.EXPORTED, actor=actor, source=SOURCE_EXPORT)
    set_ids = [s.pk for s in sets]
    lines = list(
        ChargeLine.objects.filter(
            Q(charge_set_id__in=set_ids)
            | Q(
                charge_set__status=Status.EXPORTED,
                charge_set__encounter__center=locked_center,
                charge_set__encounter__service_date__lte=date,
            ),
            export_item__isnull=True,
        )
        .select_related("charge_set")
        .order_by("charge_set__encounter__service_date", "charge_set_id", "position", "pk")
    )
    if not sets and not lines:
        return None
    number = (ExportBatch.objects.filter(center=locked_center).aggregate(m=Max("number"))["m"] or 0) + 1
    zero = Decimal("0.00")
    charge_total = sum((ln.amount or zero for ln in lines if ln.transaction_type == TransactionType.CHARGE), zero)
    credit_total = sum((ln.amount or zero for ln in lines if ln.transaction_type == TransactionType.CREDIT), zero)
    batch = ExportBatch.objects.create(
        center=locked_center,
        number=number,
        closes_date=date,
        created_by=actor,
        set_count=len({ln.charge_set_id for ln in lines} | set(set_ids)),
        line_count=len(lines),
        charge_total=charge_total,
        credit_total=credit_total,
    )
    ExportBatchItem.objects.bulk_create(
        ExportBatchItem(batch=batch, charge_line=ln, charge_set_id=ln.charge_set_id, position=i)
        for i, ln in enumerate(lines)
    )
    _audit(
        action="export.batch_create",
        actor=actor,
        obj=batch,
        center_id=locked_center.pk,
        detail={
            "batch": batch.pk,
            "number": number,
            "date": date.isoformat(),
            "sets": batch.set_count,
            "lines": len(lines),
            "charge_total": str(charge_total),
            "credit_total": str(credit_total),
        },
    )
    return batch


def batch_totals(batch: ExportBatch) -> dict[str, Decimal]:
    """Net amount of a batch, recomputed from its lines (charges minus credits)."""
    rows = (
        ChargeLine.objects.filter(export_item__batch=batch)
        .values("transaction_type")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    totals = {row["transaction_type"]: row["total"] or Decimal("0") for row in rows}
    charge = totals.get(TransactionType.CHARGE, Decimal("0"))
    credit = totals.get(TransactionType.CREDIT, Decimal("0"))
    return {"charge": charge, "credit": credit, "net": charge - credit}


# --- page views (AUD-01: a view of a PHI page is audited) ------------------------------------------------


@transaction.atomic
def record_view(*, actor: Any, what: str, charge_set: ChargeSet | None = None, detail: dict | None = None) -> None:
    """Audits that `actor` opened the queue (`what="queue"`) or a charge set's review page."""
    if charge_set is not None:
        _audit(
            action=f"review.view_{what}",
            actor=actor,
            obj=charge_set,
            charge_set=charge_set,
            detail={"charge_set": charge_set.pk, **(detail or {})},
        )
    else:
        _audit(action=f"review.view_{what}", actor=actor, obj=None, detail=detail or {})


# --- patient references (type-ahead) ------------------------------------------------------------------------


@transaction.atomic
def patient_ref_for(*, center_id: int, patient_mrn: str) -> PatientRef:
    """The opaque patient id of (center, MRN), made on first use (random, not derived from the MRN)."""
    ref = PatientRef.objects.filter(center_id=center_id, patient_mrn=patient_mrn).first()
    if ref is None:
        ref, _ = PatientRef.objects.get_or_create(
            center_id=center_id, patient_mrn=patient_mrn, defaults={"token": secrets.token_urlsafe(12)}
        )
    return ref
