"""The database and the models refuse bad periods, overlapping versions and cells the seed loader would refuse."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from codebook.models import Drug, Modifier, Payer, ProcedureCode

D = datetime.date


JAN_1 = D(2025, 1, 1)


def make_modifier(code="ZZ", start=JAN_1, end=None) -> Modifier:
    return Modifier.objects.create(code=code, description="test modifier", valid_from=start, valid_to=end)


@pytest.mark.django_db
def test_database_refuses_valid_to_before_valid_from():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_modifier(start=D(2025, 6, 1), end=D(2025, 5, 31))


@pytest.mark.django_db
def test_database_refuses_two_versions_of_a_key_starting_the_same_day():
    make_modifier()
    with pytest.raises(IntegrityError), transaction.atomic():
        make_modifier()
    assert Modifier.objects.filter(code="ZZ").count() == 1


@pytest.mark.django_db
def test_a_one_day_period_is_allowed():
    row = make_modifier(start=D(2025, 6, 1), end=D(2025, 6, 1))
    assert row.in_force_on(D(2025, 6, 1))
    assert not row.in_force_on(D(2025, 6, 2))


@pytest.mark.django_db
def test_clean_refuses_an_overlapping_version():
    make_modifier(start=D(2025, 1, 1), end=None)
    later = Modifier(code="ZZ", description="again", valid_from=D(2025, 7, 1))
    with pytest.raises(ValidationError) as caught:
        later.full_clean()
    assert "valid_from" in caught.value.message_dict
    assert "already has a version in force 2025-01-01 to open-ended" in caught.value.message_dict["valid_from"][0]


@pytest.mark.django_db
def test_clean_accepts_adjacent_versions():
    make_modifier(start=D(2025, 1, 1), end=D(2025, 6, 30))
    later = Modifier(code="ZZ", description="again", valid_from=D(2025, 7, 1))
    later.full_clean()  # no overlap: the day after the first one ends


@pytest.mark.django_db
def test_clean_applies_the_seed_loaders_cell_checks():
    drug = Drug(
        hcpcs="J9999",
        name="test drug",
        billing_unit_amount=Decimal("10"),
        billing_unit="mg",
        opps_status="k",  # the loader wants an upper-case status indicator
        price=Decimal("1"),
        valid_from=D(2025, 1, 1),
    )
    with pytest.raises(ValidationError) as caught:
        drug.full_clean()
    assert "opps_status" in caught.value.message_dict
    assert "OPPS status" in caught.value.message_dict["opps_status"][0]


@pytest.mark.django_db
def test_settings_list_must_name_known_settings():
    code = ProcedureCode(
        code="96999",
        description="test",
        kind="initial",
        settings="facility|home",
        price=Decimal("1"),
        valid_from=D(2025, 1, 1),
    )
    with pytest.raises(ValidationError) as caught:
        code.full_clean()
    assert "settings" in caught.value.message_dict


@pytest.mark.django_db
def test_amounts_are_decimals(seeded):
    drug = Drug.objects.get(hcpcs="J9312")
    assert isinstance(drug.billing_unit_amount, Decimal)
    assert isinstance(drug.price, Decimal)


@pytest.mark.django_db
def test_only_one_default_payer_in_a_period(seeded):
    commercial = Payer.objects.get(key="commercial")
    commercial.is_default = True
    with pytest.raises(ValidationError) as caught:
        commercial.full_clean()
    assert "is_default" in caught.value.message_dict
