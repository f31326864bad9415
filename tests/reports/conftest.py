"""Fixtures of the reports tests: encounters with charge sets built directly (not through the engine),
approved through coder review's real service, and a private directory for the batch files."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

DOS = datetime.date(2025, 3, 4)

#: (code, units, modifiers, unit price, revenue code, kind)
LINES = (
    ("96413", 1, [], Decimal("330"), "0335", "administration"),
    ("96415", 3, [], Decimal("70"), "0335", "administration"),
    ("J9312", 70, ["JZ"], Decimal("95"), "0636", "drug"),
)


@pytest.fixture(autouse=True)
def _files_dirs(settings, tmp_path):
    settings.REPORTS_FILES_DIR = tmp_path / "exports"
    settings.HL7_OUTBOX_DIR = ""
    return tmp_path


@pytest.fixture
def codebook(db):
    from codebook.selectors import clear_rules_book_cache
    from codebook.services import codebook_load_seed

    result = codebook_load_seed(force=False)
    clear_rules_book_cache()
    return result


def make_set(
    center,
    nurse,
    *,
    day=DOS,
    name="Ada Testpatient",
    mrn="MRN0001",
    visit="V100",
    payer="medicare",
    lines=LINES,
    status="ready",
    diagnoses=("C83.30", "Z51.11"),
):
    from charges.models import ChargeLine, ChargeSet, Encounter

    encounter = Encounter.objects.create(
        center=center,
        patient_mrn=mrn,
        patient_name=name,
        visit_number=visit,
        service_date=day,
        setting=center.setting,
        payer=payer,
        billing_entity=center.billing_entity,
        diagnoses=list(diagnoses),
        status="signed",
        created_by=nurse,
        signed_by=nurse,
        updated_by=nurse,
    )
    charge_set = ChargeSet.objects.create(encounter=encounter, status=status)
    for position, (code, units, mods, price, revenue, kind) in enumerate(lines):
        ChargeLine.objects.create(
            charge_set=charge_set,
            position=position,
            code=code,
            units=units,
            modifiers=list(mods),
            service_date=day,
            unit_price=price,
            amount=(price * units).quantize(Decimal("0.01")),
            revenue_code=revenue,
            kind=kind,
        )
    return charge_set


def approve(charge_set, coder):
    from review.services import review_approve

    return review_approve(charge_set=charge_set, actor=coder)


@pytest.fixture
def approved_set(center, nurse, coder):
    charge_set = make_set(center, nurse)
    approve(charge_set, coder)
    return charge_set


@pytest.fixture
def other_manager(other_center):
    from accounts.roles import Role
    from tests.factories import make_member

    return make_member(Role.MANAGER, other_center, username="other_manager")


def audit_actions(**filters):
    from audit.models import AuditEvent

    return list(AuditEvent.objects.filter(**filters).order_by("pk").values_list("action", flat=True))
