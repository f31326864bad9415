"""The "Charges preview" fragment: lines, explanations, warnings, and the pending / failed, retry states."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from charges.models import Derivation, DerivationStatus
from charges.services.derivations import derivation_run
from tests.charges.conftest import chart

pytestmark = pytest.mark.django_db


def test_lines_with_explanations_one_click_away(client_for, nurse, encounter):
    chart(encounter, nurse)
    body = client_for(nurse).get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert 'data-code="96413"' in body
    assert "<details><summary>Explain" in body and "R7" in body


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_pending_with_a_broker_then_ready(client_for, nurse, encounter):
    chart(encounter, nurse)
    client = client_for(nurse)
    body = client.get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert "Charges pending" in body and 'hx-trigger="load delay:2s"' in body
    assert not Derivation.objects.exists()  # the page never runs the engine itself with a broker
    derivation_run(encounter_id=encounter.pk)  # the worker's turn
    body = client.get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert 'data-code="96413"' in body


@override_settings(CELERY_TASK_ALWAYS_EAGER=False)
def test_failed_then_retry_queues_again(client_for, nurse, encounter, monkeypatch, django_capture_on_commit_callbacks):
    chart(encounter, nurse)

    def broken():
        raise RuntimeError("worker lost the codebook")

    monkeypatch.setattr("charges.services.derivations.rules_book", broken)
    assert derivation_run(encounter_id=encounter.pk).status == DerivationStatus.FAILED
    client = client_for(nurse)
    body = client.get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert "Charges preview failed." in body and ">Retry</button>" in body
    queued = []
    monkeypatch.setattr("charges.tasks.derive_encounter_task.delay", lambda pk: queued.append(pk))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("charges:preview_retry", args=[encounter.pk]), HTTP_HX_REQUEST="true")
    assert queued == [encounter.pk]


def test_unknown_drug_and_fluid_without_purpose_are_explained(client_for, nurse, encounter):
    chart(encounter, nurse, drug="mystery elixir", hcpcs="", stop_at=None, route="iv_push", dose=None, wasted=None)
    chart(encounter, nurse, drug="normal saline", hcpcs="J7050", dose=None, wasted=None)
    body = client_for(nurse).get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert "Unknown drug" in body and "UNKNOWN_DRUG" in body
    assert "Fluid without an ordered purpose" in body and "HYDRATION_NOT_DOCUMENTED" in body


def test_long_and_overlapping_pushes_are_explained(client_for, nurse, encounter):
    from decimal import Decimal

    from tests.charges.conftest import at

    chart(
        encounter,
        nurse,
        drug="ondansetron",
        hcpcs="J2405",
        route="iv_push",
        start_at=at("15:00"),
        stop_at=at("15:20"),
        dose=Decimal("8"),
        wasted=None,
    )
    chart(
        encounter,
        nurse,
        drug="dexamethasone",
        hcpcs="J1100",
        route="iv_push",
        start_at=at("15:05"),
        stop_at=at("15:08"),
        dose=Decimal("10"),
        wasted=None,
    )
    body = client_for(nurse).get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert "Long push (over 15 minutes)" in body and "LONG_PUSH" in body
    assert "Overlapping pushes" in body and "OVERLAPPING_PUSHES" in body
