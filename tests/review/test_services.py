"""Coder review services: transitions, corrections, queries, export batches, credit/rebill, audit rows."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import ProtectedError

from charges.errors import DutySeparation, StaleVersion, TransitionNotAllowed
from charges.models import ChargeLine, ChargeSet, TransactionType
from charges.workflow import Status
from review import services
from review.errors import LineImmutable, ProposalPending, QueryOpen, RoleRefused
from review.models import CorrectionAction, DocumentationQuery, ExportBatch, ExportBatchItem, ImmutableError
from tests.review.conftest import DOS, audit_actions, build_encounter, build_set

pytestmark = pytest.mark.django_db


def fresh(charge_set: ChargeSet) -> ChargeSet:
    return ChargeSet.objects.get(pk=charge_set.pk)


def line(charge_set: ChargeSet, code: str) -> ChargeLine:
    return ChargeLine.objects.get(charge_set=charge_set, code=code, transaction_type=TransactionType.CHARGE)


# --- transitions ---------------------------------------------------------------------------------------


def test_approve_ready_set(ready_set, coder):
    services.review_approve(charge_set=ready_set, actor=coder, expected_version=ready_set.version)
    assert fresh(ready_set).status == Status.APPROVED
    assert ready_set.status == Status.APPROVED
    assert "charge_set.transition" in audit_actions(object_id=str(ready_set.pk))


@pytest.mark.parametrize("status", [Status.DRAFT, Status.ON_HOLD, Status.APPROVED, Status.EXPORTED, Status.VOID])
def test_approve_refused_from_other_statuses(codebook, encounter, coder, status):
    charge_set = build_set(encounter, status=status)
    with pytest.raises(TransitionNotAllowed):
        services.review_approve(charge_set=charge_set, actor=coder)
    assert fresh(charge_set).status == status


def test_nurse_cannot_approve(ready_set, nurse):
    with pytest.raises(RoleRefused):
        services.review_approve(charge_set=ready_set, actor=nurse)
    assert fresh(ready_set).status == Status.READY


def test_documenter_who_is_also_coder_cannot_approve(ready_set, nurse, center):
    from accounts.models import Membership

    Membership.objects.create(user=nurse, center=center, role="coder")
    with pytest.raises(DutySeparation):
        services.review_approve(charge_set=ready_set, actor=nurse)
    assert fresh(ready_set).status == Status.READY


def test_coder_of_another_center_is_refused(ready_set, other_coder):
    with pytest.raises(RoleRefused):
        services.review_approve(charge_set=ready_set, actor=other_coder)
    assert fresh(ready_set).status == Status.READY


def test_hold_and_release_need_reasons(ready_set, coder):
    with pytest.raises(ValidationError):
        services.review_hold(charge_set=ready_set, actor=coder, reason="  ")
    services.review_hold(charge_set=ready_set, actor=coder, reason="waiting for the order")
    assert fresh(ready_set).status == Status.ON_HOLD
    with pytest.raises(TransitionNotAllowed):
        services.review_approve(charge_set=ready_set, actor=coder)
    with pytest.raises(ValidationError):
        services.review_release(charge_set=ready_set, actor=coder, reason="")
    services.review_release(charge_set=ready_set, actor=coder, reason="order found")
    assert fresh(ready_set).status == Status.READY


@pytest.mark.parametrize("status", [Status.DRAFT, Status.APPROVED, Status.EXPORTED, Status.VOID, Status.ON_HOLD])
def test_hold_refused_unless_ready(codebook, encounter, coder, status):
    charge_set = build_set(encounter, status=status)
    with pytest.raises(TransitionNotAllowed):
        services.review_hold(charge_set=charge_set, actor=coder, reason="x")
    assert fresh(charge_set).status == status


@pytest.mark.parametrize("status", [Status.DRAFT, Status.READY, Status.APPROVED, Status.EXPORTED, Status.VOID])
def test_release_refused_unless_on_hold(codebook, encounter, coder, status):
    charge_set = build_set(encounter, status=status)
    with pytest.raises(TransitionNotAllowed):
        services.review_release(charge_set=charge_set, actor=coder, reason="x")
    assert fresh(charge_set).status == status


def test_stale_version_is_refused_and_names_who_changed_it(ready_set, coder, coder2):
    loaded_version = ready_set.version
    services.review_hold(charge_set=fresh(ready_set), actor=coder2, reason="checking", expected_version=loaded_version)
    with pytest.raises(StaleVersion) as excinfo:
        services.review_approve(charge_set=ready_set, actor=coder, expected_version=loaded_version)
    assert excinfo.value.changed_by == "Carla Coder"
    assert fresh(ready_set).status == Status.ON_HOLD


def test_approve_refused_while_proposal_waits(ready_set, coder, encounter):
    from charges.models import Derivation

    derivation = Derivation.objects.create(encounter=encounter, status="done", documentation_version=2)
    ChargeSet.objects.filter(pk=ready_set.pk).update(proposed_derivation=derivation)
    with pytest.raises(ProposalPending):
        services.review_approve(charge_set=fresh(ready_set), actor=coder)
    assert fresh(ready_set).status == Status.READY


# --- corrections ---------------------------------------------------------------------------------------


def test_correction_requires_a_reason(ready_set, coder):
    target = line(ready_set, "96415")
    with pytest.raises(ValidationError) as excinfo:
        services.line_correct(line=target, actor=coder, units=2, reason="   ")
    assert "reason" in excinfo.value.message_dict
    target.refresh_from_db()
    assert target.units == 3
    assert not fresh(ready_set).corrected


def test_correct_units_keeps_the_engine_line(ready_set, coder):
    target = line(ready_set, "96415")
    correction = services.line_correct(
        line=target, actor=coder, units=2, reason="pause not charted", expected_version=1
    )
    target.refresh_from_db()
    assert (target.units, target.amount, target.origin) == (2, Decimal("140.00"), "coder")
    assert correction.before["units"] == 3 and correction.before["amount"] == "210.00"
    assert correction.after["units"] == 2
    charge_set = fresh(ready_set)
    assert charge_set.corrected and charge_set.version == 2
    assert audit_actions(action="review.line_correct") == ["review.line_correct"]


def test_correct_modifier_validates(ready_set, coder):
    target = line(ready_set, "J9312")
    with pytest.raises(ValidationError) as excinfo:
        services.line_correct(line=target, actor=coder, modifiers="JZ, ZZZ", reason="r")
    assert "modifiers" in excinfo.value.message_dict
    with pytest.raises(ValidationError):
        services.line_correct(line=target, actor=coder, modifiers="QQ", reason="r")  # not in the codebook
    services.line_correct(line=target, actor=coder, modifiers="jw", reason="waste documented")
    target.refresh_from_db()
    assert target.modifiers == ["JW"]


def test_correct_on_approved_set_reopens_it(ready_set, coder):
    services.review_approve(charge_set=ready_set, actor=coder)
    services.line_correct(line=line(ready_set, "96375"), actor=coder, modifiers="59", reason="separate site")
    assert fresh(ready_set).status == Status.READY


def test_add_and_remove_lines(ready_set, coder):
    with pytest.raises(ValidationError) as excinfo:
        services.line_add(charge_set=ready_set, actor=coder, code="XXXXX", units=1, reason="r")
    assert "code" in excinfo.value.message_dict
    correction = services.line_add(charge_set=ready_set, actor=coder, code="G0463", units=1, reason="visit documented")
    assert correction.line.amount == Decimal("140.00") and correction.action == CorrectionAction.ADD
    removed = services.line_remove(line=line(ready_set, "96375"), actor=coder, reason="push was a flush")
    assert removed.before["code"] == "96375"
    assert not ChargeLine.objects.filter(charge_set=ready_set, code="96375").exists()
    assert audit_actions(action__startswith="review.line_") == ["review.line_add", "review.line_remove"]


def test_nurse_cannot_correct(ready_set, nurse):
    with pytest.raises(RoleRefused):
        services.line_correct(line=line(ready_set, "96415"), actor=nurse, units=1, reason="r")
    assert line(ready_set, "96415").units == 3


def test_correction_refused_on_draft_and_void(codebook, encounter, coder):
    for status in (Status.DRAFT, Status.VOID):
        charge_set = build_set(encounter, status=status) if status == Status.DRAFT else None
        if charge_set is None:
            charge_set = build_set(build_encounter(encounter.center, encounter.created_by, mrn="M2"), status=status)
        with pytest.raises(TransitionNotAllowed):
            services.line_correct(line=line(charge_set, "96415"), actor=coder, units=1, reason="r")


# --- queries -------------------------------------------------------------------------------------------


def test_query_holds_the_set_until_closed(ready_set, coder, nurse):
    query = services.query_create(charge_set=ready_set, actor=coder, question="Indication for the hydration?")
    assert fresh(ready_set).status == Status.ON_HOLD
    assert query.addressed_to == nurse
    with pytest.raises(QueryOpen):
        services.review_release(charge_set=fresh(ready_set), actor=coder, reason="try")
    with pytest.raises(TransitionNotAllowed):
        services.review_approve(charge_set=fresh(ready_set), actor=coder)
    services.query_answer(query=query, actor=nurse, answer="Dehydration, ordered by Dr. X")
    assert fresh(ready_set).status == Status.ON_HOLD  # answered is not closed
    with pytest.raises(QueryOpen):
        services.review_release(charge_set=fresh(ready_set), actor=coder, reason="try")
    services.query_close(query=query, actor=coder, note="thanks")
    assert fresh(ready_set).status == Status.READY
    services.review_approve(charge_set=fresh(ready_set), actor=coder)
    assert fresh(ready_set).status == Status.APPROVED
    assert audit_actions(action__startswith="review.query") == [
        "review.query_create",
        "review.query_answer",
        "review.query_close",
    ]


def test_two_queries_release_only_after_the_last(ready_set, coder):
    first = services.query_create(charge_set=ready_set, actor=coder, question="q1")
    second = services.query_create(charge_set=fresh(ready_set), actor=coder, question="q2")
    services.query_close(query=first, actor=coder)
    assert fresh(ready_set).status == Status.ON_HOLD
    services.query_close(query=second, actor=coder)
    assert fresh(ready_set).status == Status.READY


def test_query_validation_and_roles(ready_set, coder, nurse):
    with pytest.raises(ValidationError):
        services.query_create(charge_set=ready_set, actor=coder, question=" ")
    with pytest.raises(RoleRefused):
        services.query_create(charge_set=ready_set, actor=nurse, question="q")
    assert not DocumentationQuery.objects.exists()
    query = services.query_create(charge_set=ready_set, actor=coder, question="q")
    with pytest.raises(RoleRefused):
        services.query_answer(query=query, actor=coder, answer="a coder does not answer")
    with pytest.raises(ValidationError):
        services.query_answer(query=query, actor=nurse, answer="")
    with pytest.raises(RoleRefused):
        services.query_close(query=query, actor=nurse)
    services.query_close(query=query, actor=coder)
    with pytest.raises(TransitionNotAllowed):
        services.query_answer(query=query, actor=nurse, answer="late")


# --- export batches and credit/rebill ---------------------------------------------------------------


def test_export_batch_numbers_and_idempotence(ready_set, coder, manager, center):
    services.review_approve(charge_set=ready_set, actor=coder)
    batch = services.export_batch_create(center=center, date=DOS, actor=manager)
    assert batch.number == 1 and batch.line_count == 4
    assert batch.charge_total == Decimal("330") + Decimal("210") + Decimal("55") + Decimal("6650")
    assert fresh(ready_set).status == Status.EXPORTED
    assert services.export_batch_create(center=center, date=DOS, actor=manager) is None  # nothing new
    assert ExportBatch.objects.count() == 1
    assert "export.batch_create" in audit_actions()
    # a late approval goes into the next batch
    late = build_set(build_encounter(center, ready_set.encounter.created_by, mrn="M2"))
    services.review_approve(charge_set=late, actor=coder)
    second = services.export_batch_create(center=center, date=DOS, actor=manager)
    assert second.number == 2 and second.set_count == 1


def test_export_needs_manager_and_skips_future_and_unapproved(ready_set, coder, manager, center, nurse):
    services.review_approve(charge_set=ready_set, actor=coder)
    future = build_set(build_encounter(center, nurse, mrn="M3", day=DOS + datetime.timedelta(days=1)))
    services.review_approve(charge_set=future, actor=coder)
    unapproved = build_set(build_encounter(center, nurse, mrn="M4"))
    with pytest.raises(RoleRefused):
        services.export_batch_create(center=center, date=DOS, actor=coder)
    batch = services.export_batch_create(center=center, date=DOS, actor=manager)
    assert set(ExportBatchItem.objects.filter(batch=batch).values_list("charge_set_id", flat=True)) == {ready_set.pk}
    assert fresh(future).status == Status.APPROVED
    assert fresh(unapproved).status == Status.READY


def test_exported_lines_and_batches_are_immutable(ready_set, coder, manager, center):
    services.review_approve(charge_set=ready_set, actor=coder)
    batch = services.export_batch_create(center=center, date=DOS, actor=manager)
    exported = line(ready_set, "96415")
    exported.units = 1
    with pytest.raises(LineImmutable):
        exported.save()
    with pytest.raises((LineImmutable, ProtectedError)):
        exported.delete()
    with pytest.raises(ImmutableError):
        batch.save()
    with pytest.raises(ImmutableError):
        batch.delete()
    assert line(ready_set, "96415").units == 3


def test_correction_after_export_credits_and_rebills_into_next_batch(ready_set, coder, coder2, manager, center):
    services.review_approve(charge_set=ready_set, actor=coder)
    first = services.export_batch_create(center=center, date=DOS, actor=manager)
    old = line(ready_set, "96415")
    correction = services.line_correct(line=old, actor=coder2, units=2, reason="one hour was a pause")
    old.refresh_from_db()
    assert old.units == 3  # never edited
    credit, rebill = correction.credit_line, correction.line
    assert (credit.transaction_type, credit.units, credit.amount, credit.replaces_id) == (
        TransactionType.CREDIT,
        3,
        Decimal("210.00"),
        old.pk,
    )
    assert (rebill.transaction_type, rebill.units, rebill.amount) == ("charge", 2, Decimal("140.00"))
    assert rebill.replaces_id == old.pk
    assert correction.after_export
    assert fresh(ready_set).status == Status.EXPORTED
    # a second correction of the already credited line is refused
    with pytest.raises(LineImmutable):
        services.line_correct(line=old, actor=coder2, units=1, reason="again")
    second = services.export_batch_create(center=center, date=DOS, actor=manager)
    assert second.number == first.number + 1
    items = {i.charge_line_id for i in ExportBatchItem.objects.filter(batch=second)}
    assert items == {credit.pk, rebill.pk}
    totals = services.batch_totals(second)
    assert totals["net"] == Decimal("-70.00")  # 2 units instead of 3 at 70
    # netting over both batches: the corrected units and amount
    net_units = sum(
        (ln.units if ln.transaction_type == "charge" else -ln.units)
        for ln in ChargeLine.objects.filter(charge_set=ready_set, code="96415", export_item__isnull=False)
    )
    assert net_units == 2
    all_net = services.batch_totals(first)["net"] + totals["net"]
    assert all_net == Decimal("7175.00")  # 7245 - 70
    assert services.export_batch_create(center=center, date=DOS, actor=manager) is None


def test_remove_after_export_credits_only(ready_set, coder, manager, center):
    services.review_approve(charge_set=ready_set, actor=coder)
    services.export_batch_create(center=center, date=DOS, actor=manager)
    correction = services.line_remove(line=line(ready_set, "96375"), actor=coder, reason="not given")
    assert correction.line is None and correction.credit_line.transaction_type == "credit"
    batch = services.export_batch_create(center=center, date=DOS, actor=manager)
    assert services.batch_totals(batch)["net"] == Decimal("-55.00")


def test_documenter_cannot_correct_after_export(ready_set, coder, manager, center, nurse):
    from accounts.models import Membership

    services.review_approve(charge_set=ready_set, actor=coder)
    services.export_batch_create(center=center, date=DOS, actor=manager)
    Membership.objects.create(user=nurse, center=center, role="coder")
    with pytest.raises(DutySeparation):
        services.line_correct(line=line(ready_set, "96415"), actor=nurse, units=2, reason="r")
    assert ChargeLine.objects.filter(charge_set=ready_set).count() == 4


# --- proposals ---------------------------------------------------------------------------------------


def _propose(charge_set: ChargeSet, lines: list[dict]):
    from charges.models import Derivation

    derivation = Derivation.objects.create(
        encounter=charge_set.encounter,
        status="done",
        documentation_version=2,
        input={"administrations": []},
        output={"lines": lines, "warnings": [], "errors": []},
    )
    ChargeSet.objects.filter(pk=charge_set.pk).update(proposed_derivation=derivation, version=charge_set.version + 1)
    return derivation


NEW_LINES = [
    {"code": code, "units": units, "modifiers": mods, "date": "2025-03-04", "kind": kind, "administrations": []}
    for code, units, mods, kind in (
        ("96413", 1, [], "administration"),
        ("96415", 2, [], "administration"),
        ("J9312", 70, ["JZ"], "drug"),
    )
]


def test_accept_new_lines_before_export(ready_set, coder):
    services.line_correct(line=line(ready_set, "96375"), actor=coder, modifiers="59", reason="r")
    derivation = _propose(fresh(ready_set), NEW_LINES)
    correction = services.proposal_accept(charge_set=fresh(ready_set), actor=coder)
    charge_set = fresh(ready_set)
    assert charge_set.proposed_derivation_id is None and charge_set.derivation_id == derivation.pk
    assert not charge_set.corrected
    assert sorted(ChargeLine.objects.filter(charge_set=ready_set).values_list("code", "units")) == [
        ("96413", 1),
        ("96415", 2),
        ("J9312", 70),
    ]
    assert len(correction.before) == 4 and len(correction.after) == 3
    assert audit_actions(action="review.proposal_accept") == ["review.proposal_accept"]
    with pytest.raises(TransitionNotAllowed):
        services.proposal_accept(charge_set=charge_set, actor=coder)


def test_accept_new_lines_after_export_credits_the_difference(ready_set, coder, manager, center):
    services.review_approve(charge_set=ready_set, actor=coder)
    services.export_batch_create(center=center, date=DOS, actor=manager)
    _propose(fresh(ready_set), NEW_LINES)
    services.proposal_accept(charge_set=fresh(ready_set), actor=coder)
    batch = services.export_batch_create(center=center, date=DOS, actor=manager)
    lines = ChargeLine.objects.filter(export_item__batch=batch)
    assert sorted((ln.code, ln.transaction_type, ln.units) for ln in lines) == [
        ("96375", "credit", 1),
        ("96415", "charge", 2),
        ("96415", "credit", 3),
    ]
    assert services.batch_totals(batch)["net"] == Decimal("-125.00")  # -55 push, -70 one hour


# --- audit: every action writes its row, in the same transaction ---------------------------------------


def test_every_action_writes_its_audit_row(ready_set, coder, coder2, nurse, manager, center):
    from audit.models import AuditEvent

    def rows_after(action_callable):
        before = AuditEvent.objects.count()
        action_callable()
        return list(AuditEvent.objects.order_by("pk")[before:].values_list("action", "detail", "patient_ref", "user"))

    def only(rows, name):
        found = [r for r in rows if r[0] == name]
        assert len(found) == 1, rows
        return found[0]

    ref = ready_set.encounter.patient_ref
    hold = rows_after(lambda: services.review_hold(charge_set=fresh(ready_set), actor=coder, reason="r"))
    assert only(hold, "charge_set.transition")[1]["to"] == Status.ON_HOLD
    release = rows_after(lambda: services.review_release(charge_set=fresh(ready_set), actor=coder, reason="r"))
    assert only(release, "charge_set.transition")[1]["to"] == Status.READY
    corrected = rows_after(
        lambda: services.line_correct(line=line(ready_set, "96415"), actor=coder, units=2, reason="why")
    )
    assert only(corrected, "review.line_correct")[2:] == (ref, coder.pk)
    only(
        rows_after(lambda: services.line_add(charge_set=ready_set, actor=coder, code="96374", units=1, reason="r")),
        "review.line_add",
    )
    only(
        rows_after(lambda: services.line_remove(line=line(ready_set, "96374"), actor=coder, reason="r")),
        "review.line_remove",
    )
    query_rows = rows_after(lambda: services.query_create(charge_set=fresh(ready_set), actor=coder, question="q"))
    only(query_rows, "review.query_create")
    query = DocumentationQuery.objects.get()
    only(rows_after(lambda: services.query_answer(query=query, actor=nurse, answer="a")), "review.query_answer")
    only(rows_after(lambda: services.query_close(query=query, actor=coder)), "review.query_close")
    approve = rows_after(lambda: services.review_approve(charge_set=fresh(ready_set), actor=coder2))
    assert only(approve, "charge_set.transition")[1]["to"] == Status.APPROVED
    export = rows_after(lambda: services.export_batch_create(center=center, date=DOS, actor=manager))
    only(export, "export.batch_create")


def test_a_refused_action_leaves_no_audit_row_and_no_change(ready_set, coder):
    from audit.models import AuditEvent

    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        services.line_correct(line=line(ready_set, "96415"), actor=coder, units=2, reason="")
    with pytest.raises(StaleVersion):
        services.line_correct(line=line(ready_set, "96415"), actor=coder, units=2, reason="r", expected_version=99)
    assert AuditEvent.objects.count() == before
    assert line(ready_set, "96415").units == 3 and fresh(ready_set).version == 1
