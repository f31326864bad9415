"""The encounter page runs the same number of queries for 1 and for 25 administrations (2 pauses each)."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from charges.services.derivations import derivation_run
from charges.services.encounters import encounter_create
from tests.charges.conftest import DOS, at, chart

pytestmark = pytest.mark.django_db


def _encounter_with(center, nurse, count: int):
    encounter = encounter_create(
        center=center,
        actor=nurse,
        values={"patient_mrn": f"Q{count}", "patient_name": f"Query Test {count}", "service_date": DOS},
    )
    base = at("06:00")
    for i in range(count):
        start = base + datetime.timedelta(minutes=30 * i)
        chart(
            encounter,
            nurse,
            drug="ondansetron" if i % 2 else "rituximab",
            hcpcs="J2405" if i % 2 else "J9312",
            site="A" if i % 3 else "B",
            start_at=start,
            stop_at=start + datetime.timedelta(minutes=25),
            pauses=[
                (start + datetime.timedelta(minutes=2), start + datetime.timedelta(minutes=4)),
                (start + datetime.timedelta(minutes=6), start + datetime.timedelta(minutes=8)),
            ],
        )
    derivation_run(encounter_id=encounter.pk)
    return encounter


def _count(client, encounter) -> int:
    url = reverse("charges:encounter", args=[encounter.pk])
    client.get(url)  # warm caches (session, content types)
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_encounter_page_query_count_does_not_grow(client_for, center, nurse, codebook):
    small = _encounter_with(center, nurse, 1)
    large = _encounter_with(center, nurse, 25)
    assert large.administrations.count() == 25
    client = client_for(nurse)
    page = client.get(reverse("charges:encounter", args=[large.pk])).content.decode()
    assert page.count('class="administration-row') == 25
    assert _count(client, small) == _count(client, large)


def test_board_query_count_does_not_grow(client_for, center, nurse, codebook):
    import time_machine

    client = client_for(nurse)
    with time_machine.travel(at("23:00"), tick=False):
        _encounter_with(center, nurse, 1)
        url = reverse("charges:board")
        client.get(url)
        with CaptureQueriesContext(connection) as one:
            client.get(url)
        for _ in range(3):
            _encounter_with(center, nurse, 2)
        with CaptureQueriesContext(connection) as four:
            client.get(url)
    assert len(one.captured_queries) == len(four.captured_queries)
