"""The status table: every allowed and refused move, by role; duty separation; reasons; audit."""

from __future__ import annotations

import itertools

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from charges import workflow
from charges.errors import DutySeparation, SigningRefused, StaleVersion, TransitionNotAllowed
from charges.models import ChargeSet, ChargeSetTransition
from charges.services.charge_sets import charge_set_transition
from charges.workflow import SOURCE_EXPORT, Status
from tests.charges.conftest import chart
from tests.factories import make_member

pytestmark = pytest.mark.django_db

EXPECTED = {
    (Status.DRAFT, Status.READY): {"nurse"},
    (Status.READY, Status.ON_HOLD): {"coder"},
    (Status.ON_HOLD, Status.READY): {"coder"},
    (Status.READY, Status.APPROVED): {"coder"},
    (Status.APPROVED, Status.READY): {"coder"},
    (Status.DRAFT, Status.VOID): {"nurse", "coder"},
    (Status.READY, Status.VOID): {"nurse", "coder"},
    (Status.ON_HOLD, Status.VOID): {"nurse", "coder"},
    (Status.APPROVED, Status.VOID): {"nurse", "coder"},
}
ROLES = ("nurse", "coder", "manager", "admin")


@pytest.fixture
def signable(encounter, nurse):
    """An encounter with one complete infusion and its draft charge set."""
    chart(encounter, nurse)
    from charges.services.derivations import derivation_ensure_current

    derivation_ensure_current(encounter=encounter)
    return ChargeSet.objects.get(encounter=encounter, group_key="")


@pytest.fixture
def actors(center, nurse):
    """One user per role who did not document the encounter (plus the documenting nurse)."""
    return {
        "nurse": make_member("nurse", center, username="nurse_b"),
        "coder": make_member("coder", center, username="coder_b"),
        "manager": make_member("manager", center, username="manager_b"),
        "admin": make_member("admin", center, username="admin_b"),
    }


def force_status(charge_set, status):
    ChargeSet.objects.filter(pk=charge_set.pk).update(status=status)
    charge_set.refresh_from_db()


def test_table_is_the_issue_table():
    user_moves = {(m.from_status, m.to_status): set(m.roles) for m in workflow.TRANSITIONS if m.source == "user"}
    assert user_moves == {k: v for k, v in EXPECTED.items()}
    export = [m for m in workflow.TRANSITIONS if m.source == SOURCE_EXPORT]
    assert [(m.from_status, m.to_status) for m in export] == [(Status.APPROVED, Status.EXPORTED)]


@pytest.mark.parametrize("role", ROLES)
def test_every_move_by_every_role(signable, actors, role):
    """All 30 ordered status pairs for each role: allowed exactly when the issue's table says so."""
    actor = actors[role]
    checked = 0
    for from_status, to_status in itertools.permutations(Status.values, 2):
        force_status(signable, from_status)
        allowed = role in EXPECTED.get((from_status, to_status), set())
        before = ChargeSetTransition.objects.count()
        if allowed:
            charge_set_transition(charge_set=signable, to_status=to_status, actor=actor, reason="checked")
            signable.refresh_from_db()
            assert signable.status == to_status, (from_status, to_status)
            row = ChargeSetTransition.objects.latest("pk")
            assert (row.from_status, row.to_status, row.actor, row.reason) == (from_status, to_status, actor, "checked")
            assert AuditEvent.objects.filter(action="charge_set.transition", object_id=str(signable.pk)).count() >= 1
        else:
            with pytest.raises(TransitionNotAllowed):
                charge_set_transition(charge_set=signable, to_status=to_status, actor=actor, reason="checked")
            signable.refresh_from_db()
            assert signable.status == from_status
            assert ChargeSetTransition.objects.count() == before
        checked += 1
    assert checked == 30


def test_export_only_by_the_export_service(signable, actors):
    force_status(signable, Status.APPROVED)
    with pytest.raises(TransitionNotAllowed):
        charge_set_transition(charge_set=signable, to_status=Status.EXPORTED, actor=actors["manager"])
    charge_set_transition(charge_set=signable, to_status=Status.EXPORTED, actor=actors["manager"], source=SOURCE_EXPORT)
    assert signable.status == Status.EXPORTED
    for target in (Status.READY, Status.VOID):
        with pytest.raises(TransitionNotAllowed):
            charge_set_transition(charge_set=signable, to_status=target, actor=actors["coder"], reason="late")


@pytest.mark.parametrize(
    "from_status,to_status",
    [(Status.READY, Status.ON_HOLD), (Status.ON_HOLD, Status.READY), (Status.APPROVED, Status.READY)],
)
def test_reason_required(signable, actors, from_status, to_status):
    force_status(signable, from_status)
    with pytest.raises(ValidationError):
        charge_set_transition(charge_set=signable, to_status=to_status, actor=actors["coder"], reason="  ")
    signable.refresh_from_db()
    assert signable.status == from_status


def test_documenting_coder_cannot_approve(signable, center, encounter):
    dual = make_member("coder", center, username="dual")
    encounter.created_by = dual
    encounter.save()
    force_status(signable, Status.READY)
    with pytest.raises(DutySeparation):
        charge_set_transition(charge_set=signable, to_status=Status.APPROVED, actor=dual)


def test_signing_refused_without_stop_time(encounter, nurse):
    chart(encounter, nurse, stop_at=None)
    from charges.services.derivations import derivation_ensure_current

    derivation_ensure_current(encounter=encounter)
    charge_set = ChargeSet.objects.get(encounter=encounter)
    with pytest.raises(SigningRefused):
        charge_set_transition(charge_set=charge_set, to_status=Status.READY, actor=nurse)


def test_stale_version_refused(signable, actors):
    old = signable.version
    charge_set_transition(charge_set=signable, to_status=Status.READY, actor=actors["nurse"], expected_version=old)
    with pytest.raises(StaleVersion) as exc:
        charge_set_transition(
            charge_set=signable, to_status=Status.ON_HOLD, actor=actors["coder"], reason="x", expected_version=old
        )
    assert "changed by" in str(exc.value)


def test_other_center_user_cannot_move(signable, other_nurse):
    with pytest.raises(TransitionNotAllowed):
        charge_set_transition(charge_set=signable, to_status=Status.VOID, actor=other_nurse, reason="x")
