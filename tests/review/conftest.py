"""Fixtures of the review tests: the codebook seed, a signed encounter with a ready charge set.

Charge sets and lines are built directly (not through the engine) so these tests pin the review
rules, not the engine's output.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

DOS = datetime.date(2025, 3, 4)
NY = ZoneInfo("America/New_York")

#: (code, units, modifiers, unit price, kind) of the standard rituximab day (codebook 2025.1 prices)
STANDARD_LINES = (
    ("96413", 1, [], Decimal("330"), "administration"),
    ("96415", 3, [], Decimal("70"), "administration"),
    ("96375", 1, [], Decimal("55"), "administration"),
    ("J9312", 70, ["JZ"], Decimal("95"), "drug"),
)


def at(hhmm: str, day: datetime.date = DOS) -> datetime.datetime:
    h, m = hhmm.split(":")
    return datetime.datetime.combine(day, datetime.time(int(h), int(m)), tzinfo=NY)


@pytest.fixture
def codebook(db):
    from codebook.selectors import clear_rules_book_cache
    from codebook.services import codebook_load_seed

    result = codebook_load_seed(force=False)
    clear_rules_book_cache()
    return result


def build_encounter(center, nurse, *, day=DOS, name="Ada Testpatient", mrn="MRN0001", stop="14:10", payer="medicare"):
    from charges.models import Encounter
    from tests.factories import AdministrationFactory

    encounter = Encounter.objects.create(
        center=center,
        patient_mrn=mrn,
        patient_name=name,
        visit_number="V100",
        service_date=day,
        setting=center.setting,
        payer=payer,
        billing_entity=center.billing_entity,
        diagnoses=["C83.30"],
        status="signed",
        created_by=nurse,
        signed_by=nurse,
        updated_by=nurse,
    )
    AdministrationFactory(
        encounter=encounter,
        start_at=at("10:00", day),
        stop_at=at(stop, day) if stop else None,
        dose=Decimal("700"),
        dose_unit="mg",
        wasted=Decimal("0"),
    )
    AdministrationFactory(
        encounter=encounter, drug="diphenhydramine", hcpcs="J1200", route="iv_push", start_at=at("09:45", day)
    )
    AdministrationFactory(
        encounter=encounter,
        drug="sodium chloride 0.9%",
        hcpcs="J7050",
        purpose="hydration",
        start_at=at("10:00", day),
        stop_at=at("14:10", day),
    )
    return encounter


def build_set(encounter, *, status="ready", lines=STANDARD_LINES):
    from charges.models import ChargeSet
    from tests.factories import ChargeLineFactory

    charge_set = ChargeSet.objects.create(encounter=encounter, status=status)
    for position, (code, units, mods, price, kind) in enumerate(lines):
        ChargeLineFactory(
            charge_set=charge_set,
            position=position,
            code=code,
            units=units,
            modifiers=list(mods),
            unit_price=price,
            kind=kind,
        )
    return charge_set


@pytest.fixture
def encounter(center, nurse):
    return build_encounter(center, nurse)


@pytest.fixture
def ready_set(codebook, encounter):
    return build_set(encounter)


@pytest.fixture
def coder2(center):
    from accounts.roles import Role
    from tests.factories import make_member

    return make_member(Role.CODER, center, username="coder2", first_name="Carla", last_name="Coder")


@pytest.fixture
def other_coder(other_center):
    from accounts.roles import Role
    from tests.factories import make_member

    return make_member(Role.CODER, other_center, username="other_coder")


def audit_actions(**filters):
    from audit.models import AuditEvent

    return list(AuditEvent.objects.filter(**filters).order_by("pk").values_list("action", flat=True))
