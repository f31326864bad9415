import datetime

import pytest

from charges.demo import PATIENTS, load_demo_day
from charges.models import Administration, ChargeLine, Encounter

pytestmark = pytest.mark.django_db


def test_demo_day_is_realistic_and_idempotent(center, nurse, codebook):
    day = datetime.date(2025, 3, 4)
    assert load_demo_day(center, day) == len(PATIENTS)
    assert load_demo_day(center, day) == 0
    encounters = Encounter.objects.filter(center=center, service_date=day)
    assert encounters.count() == len(PATIENTS)
    running = Administration.objects.filter(encounter__center=center, stop_at__isnull=True, route="iv_infusion")
    assert running.count() == 1
    codes = set(ChargeLine.objects.filter(charge_set__encounter__center=center).values_list("code", flat=True))
    assert {"96413", "96415", "96375", "96365", "96372", "96377", "J9312"} <= codes
