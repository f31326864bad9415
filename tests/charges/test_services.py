"""Services and models: constraints, derivations (stale ones discarded), engine input shape, history, audit."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from charges.engine_input import build_engine_input
from charges.models import Administration, ChargeLine, ChargeSet, Derivation, DerivationStatus, Pause
from charges.services.administrations import PauseSpan, administration_update
from charges.services.derivations import derivation_prepare, derivation_record, derivation_run
from charges.workflow import Status
from tests.charges.conftest import DOS, at, chart

pytestmark = pytest.mark.django_db


def _raw_integrity(callable_):
    with pytest.raises(IntegrityError), transaction.atomic():
        callable_()


def test_database_refuses_stop_before_start(encounter, nurse):
    adm = chart(encounter, nurse)
    _raw_integrity(lambda: Administration.objects.filter(pk=adm.pk).update(stop_at=at("09:00")))


def test_database_refuses_non_positive_dose(encounter, nurse):
    adm = chart(encounter, nurse)
    _raw_integrity(lambda: Administration.objects.filter(pk=adm.pk).update(dose=Decimal("0")))
    _raw_integrity(lambda: Administration.objects.filter(pk=adm.pk).update(wasted=Decimal("-1")))


def test_database_refuses_pause_ending_before_it_starts(encounter, nurse):
    adm = chart(encounter, nurse)
    _raw_integrity(lambda: Pause.objects.create(administration=adm, start_at=at("11:00"), stop_at=at("10:50")))


def test_database_refuses_zero_units(encounter, nurse):
    chart(encounter, nurse)
    derivation_run(encounter_id=encounter.pk)
    line = ChargeLine.objects.first()
    _raw_integrity(lambda: ChargeLine.objects.filter(pk=line.pk).update(units=0))


def test_service_refuses_pause_outside_the_infusion(encounter, nurse):
    with pytest.raises(ValidationError) as exc:
        chart(encounter, nurse, pauses=[(at("14:00"), at("14:30"))])
    assert "pauses" in exc.value.message_dict
    assert Administration.objects.count() == 0


def test_service_converts_nothing_but_refuses_an_unconvertible_unit(encounter, nurse):
    with pytest.raises(ValidationError) as exc:
        chart(encounter, nurse, dose=Decimal("1"), dose_unit="mL")
    assert "dose_unit" in exc.value.message_dict
    adm = chart(encounter, nurse, dose=Decimal("0.7"), dose_unit="g")  # g converts to mg: accepted as typed
    assert (adm.dose, adm.dose_unit) == (Decimal("0.7"), "g")


def test_engine_input_matches_engine_io_shape(encounter, nurse):
    adm = chart(encounter, nurse, pauses=[(at("11:00"), at("11:20"))], ndc="50242-0051-21", acquired_340b=True)
    data = build_engine_input(encounter)
    assert set(data) >= {"id", "setting", "payer", "timezone", "diagnoses", "administrations"}
    assert data["setting"] == "facility" and data["payer"] == "medicare"
    assert data["timezone"] == "America/New_York" and data["department_status"] == "on_campus"
    assert data["diagnoses"] == ["C83.30", "Z51.11"]
    (item,) = data["administrations"]
    assert item["id"] == f"A{adm.pk}"
    assert item["start"] == "2025-03-04T10:00-05:00" and item["stop"] == "2025-03-04T14:10-05:00"
    assert item["pauses"] == [{"start": "2025-03-04T11:00-05:00", "stop": "2025-03-04T11:20-05:00"}]
    assert item["dose"] == 700 and item["dose_unit"] == "mg" and item["wasted"] == 0
    assert item["hcpcs"] == "J9312" and item["route"] == "iv_infusion" and item["site"] == "A"
    assert item["acquired_340b"] is True and item["ndc"] == "50242-0051-21"
    assert item["separate_encounter"] is False
    # the engine accepts it: same lines as through the command-line engine with the seed
    from charges.engine.api import derive_encounter
    from charges.engine.snapshot import load_seed_book

    result = derive_encounter(data, load_seed_book())
    assert result["errors"] == []
    assert [(line["code"], line["units"]) for line in result["lines"] if line["kind"] == "administration"] == [
        ("96413", 1),
        ("96415", 3),
    ]


def test_derivation_becomes_the_lines_with_amounts(encounter, nurse):
    adm = chart(encounter, nurse)
    derivation = derivation_run(encounter_id=encounter.pk)
    assert derivation.status == DerivationStatus.DONE
    assert derivation.engine_version and derivation.codebook_version
    assert derivation.input["administrations"][0]["id"] == f"A{adm.pk}"
    charge_set = ChargeSet.objects.get(encounter=encounter)
    assert charge_set.derivation == derivation and charge_set.status == Status.DRAFT
    lines = list(charge_set.lines.order_by("position"))
    assert [(line.code, line.units) for line in lines][:2] == [("96413", 1), ("96415", 3)]
    for line in lines:
        assert line.amount == (line.unit_price * line.units).quantize(Decimal("0.01"))
        assert list(line.administrations.all()) == [adm]
    assert AuditEvent.objects.filter(action="charges.derive").exists()


def test_stale_derivation_is_discarded(encounter, nurse):
    adm = chart(encounter, nurse)
    derivation_run(encounter_id=encounter.pk)
    prepared = derivation_prepare(encounter_id=encounter.pk)  # reads stop 14:10
    administration_update(administration=adm, actor=nurse, values={"stop_at": at("11:00")})  # documentation moves on
    stale = derivation_record(prepared=prepared)
    assert stale.status == DerivationStatus.DISCARDED
    charge_set = ChargeSet.objects.get(encounter=encounter)
    assert charge_set.derivation != stale
    assert not charge_set.lines.filter(derivation=stale).exists()
    fresh = derivation_run(encounter_id=encounter.pk)
    assert fresh.status == DerivationStatus.DONE
    assert set(charge_set.lines.values_list("code", flat=True)) >= {"96413"}
    assert not charge_set.lines.filter(code="96415").exists()  # 60 minutes: no additional hour


def test_derivation_is_a_proposal_once_approved_or_corrected(encounter, nurse):
    adm = chart(encounter, nurse)
    first = derivation_run(encounter_id=encounter.pk)
    charge_set = ChargeSet.objects.get(encounter=encounter)
    ChargeSet.objects.filter(pk=charge_set.pk).update(status=Status.APPROVED)
    administration_update(administration=adm, actor=nurse, values={"stop_at": at("12:00")})
    second = derivation_run(encounter_id=encounter.pk)
    charge_set.refresh_from_db()
    assert charge_set.derivation == first and charge_set.proposed_derivation == second
    assert charge_set.lines.filter(code="96415", units=3).exists()  # the approved lines are untouched


def test_failed_derivation_is_recorded(encounter, nurse, monkeypatch):
    chart(encounter, nurse)

    def broken():
        raise RuntimeError("codebook unavailable")

    monkeypatch.setattr("charges.services.derivations.rules_book", broken)
    derivation = derivation_run(encounter_id=encounter.pk)
    assert derivation.status == DerivationStatus.FAILED
    assert "codebook unavailable" in derivation.failure


def test_separate_encounter_gets_its_own_charge_set(encounter, nurse):
    chart(encounter, nurse)
    chart(
        encounter,
        nurse,
        drug="ondansetron",
        hcpcs="J2405",
        route="iv_push",
        start_at=at("16:00"),
        stop_at=None,
        dose=Decimal("8"),
        separate_encounter="return 1",
    )
    derivation_run(encounter_id=encounter.pk)
    assert set(ChargeSet.objects.filter(encounter=encounter).values_list("group_key", flat=True)) == {"", "return 1"}
    ret = ChargeSet.objects.get(encounter=encounter, group_key="return 1")
    assert ret.lines.filter(kind="administration").exists()


def test_history_and_audit_of_documentation(encounter, nurse, nurse2):
    adm = chart(encounter, nurse)
    administration_update(
        administration=adm, actor=nurse2, values={"stop_at": at("14:20")}, pauses=[PauseSpan(at("11:00"), at("11:10"))]
    )
    adm.refresh_from_db()
    assert adm.history.count() == 2 and adm.version == 2
    assert AuditEvent.objects.filter(action="administration.create").count() == 1
    assert AuditEvent.objects.filter(action="administration.update").count() == 1
    encounter.refresh_from_db()
    assert encounter.documentation_version == 3


def test_audit_rolls_back_with_the_change(encounter, nurse):
    before = AuditEvent.objects.count()
    with pytest.raises(ValidationError):
        chart(encounter, nurse, stop_at=at("09:00"))
    assert AuditEvent.objects.count() == before


def test_derive_task_queued_on_commit_with_ids_only(encounter, nurse, monkeypatch, django_capture_on_commit_callbacks):
    sent = []
    monkeypatch.setattr("charges.tasks.derive_encounter_task.delay", lambda *args, **kw: sent.append((args, kw)))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        chart(encounter, nurse)
    assert sent == []  # nothing before the commit
    for callback in callbacks:
        callback()
    assert sent == [((encounter.pk,), {})]


def test_eager_task_computes_the_preview_at_once(encounter, nurse, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        chart(encounter, nurse)
    derivation = Derivation.objects.get(encounter=encounter)
    assert derivation.status == DerivationStatus.DONE
    encounter.refresh_from_db()
    assert derivation.documentation_version == encounter.documentation_version


def test_derived_dates_in_center_zone(encounter, nurse):
    chart(encounter, nurse, start_at=at("22:00"), stop_at=at("01:00", DOS + datetime.timedelta(days=1)))
    derivation = derivation_run(encounter_id=encounter.pk)
    dates = {line["date"] for line in derivation.output["lines"]}
    assert "2025-03-04" in dates


def test_void_and_purge_voided_drafts(encounter, nurse):
    from charges.retention import purge_voided_drafts
    from charges.services.encounters import encounter_void

    chart(encounter, nurse)
    derivation_run(encounter_id=encounter.pk)
    with pytest.raises(ValidationError):
        encounter_void(encounter=encounter, actor=nurse, reason="")
    encounter_void(encounter=encounter, actor=nurse, reason="wrong patient")
    assert set(ChargeSet.objects.filter(encounter=encounter).values_list("status", flat=True)) == {Status.VOID}
    later = datetime.date.today() + datetime.timedelta(days=2)
    assert purge_voided_drafts(before=datetime.date(2000, 1, 1), dry_run=False) == 0
    assert purge_voided_drafts(before=later, dry_run=True) == 1
    assert purge_voided_drafts(before=later, dry_run=False) == 1
    assert not type(encounter).objects.filter(pk=encounter.pk).exists()


@pytest.mark.database_book
def test_derivation_uses_the_database_codebook(encounter, nurse):
    chart(encounter, nurse)
    derivation = derivation_run(encounter_id=encounter.pk)
    assert derivation.status == DerivationStatus.DONE
    assert "@" in derivation.codebook_version  # version@revision token of the database codebook
    assert ChargeSet.objects.get(encounter=encounter).lines.filter(code="96413").exists()


def test_kept_lines_follow_the_new_derivation_in_its_order(encounter, nurse):
    """Lines the engine gives again keep their row (no history noise) and take the new derivation and
    position; the stored lines are exactly the new output, in its order."""
    chart(encounter, nurse)  # rituximab 10:00-14:10: 96413 + 96415 x3 and the drug line
    derivation_run(encounter_id=encounter.pk)
    charge_set = ChargeSet.objects.get(encounter=encounter)
    before = {(line.code, line.units): (line.pk, line.position) for line in charge_set.lines.all()}
    chart(encounter, nurse, drug="ondansetron", hcpcs="J2405", route="iv_push", start_at=at("09:00"), stop_at=None,
          dose=Decimal("8"))  # fmt: skip
    chart(encounter, nurse, drug="ondansetron", hcpcs="J2405", route="iv_push", start_at=at("08:00"), stop_at=None,
          dose=Decimal("4"))  # fmt: skip
    second = derivation_run(encounter_id=encounter.pk)
    lines = list(charge_set.lines.order_by("position", "pk"))
    assert [(line.code, line.units, line.kind) for line in lines] == [
        (line["code"], line["units"], line["kind"]) for line in second.output["lines"]
    ]
    assert [line.position for line in lines] == list(range(len(lines)))
    assert {line.derivation_id for line in lines} == {second.pk}
    kept = [line for line in lines if before.get((line.code, line.units), (None,))[0] == line.pk]
    assert kept, "unchanged lines keep their rows"
    assert any(before[(line.code, line.units)][1] != line.position for line in kept), "a kept line moved"
    charge_set.refresh_from_db()
    assert charge_set.derivation == second
