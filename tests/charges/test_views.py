"""Nurse pages through the Django test client: the flow, every validation message, scoping, conflicts."""

from __future__ import annotations

import datetime

import pytest
from django.urls import reverse

from charges.models import Administration, Encounter
from tests.charges.conftest import DOS, at, chart

pytestmark = pytest.mark.django_db


def form_data(**overrides):
    data = {
        "drug": "rituximab",
        "hcpcs": "",
        "route": "iv_infusion",
        "site": "A",
        "start_date": DOS.isoformat(),
        "start_time": "10:00",
        "stop_date": "",
        "stop_time": "14:10",
        "dose": "700",
        "dose_unit": "mg",
        "wasted": "0",
        "pause-TOTAL_FORMS": "1",
        "pause-INITIAL_FORMS": "0",
        "pause-MIN_NUM_FORMS": "0",
        "pause-MAX_NUM_FORMS": "20",
        "pause-0-start": "",
        "pause-0-stop": "",
    }
    data.update(overrides)
    return data


def post_new(client, encounter, htmx=True, **overrides):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("charges:administration_new", args=[encounter.pk]), form_data(**overrides), **headers)


def test_new_encounter_form_creates_and_redirects(client_for, nurse, center, codebook):
    client = client_for(nurse)
    page = client.get(reverse("charges:encounter_new"))
    assert page.status_code == 200
    response = client.post(
        reverse("charges:encounter_new"),
        {
            "center": center.pk,
            "service_date": "2025-03-04",
            "patient_name": "Grace Hopper",
            "patient_mrn": "MRN-7",
            "setting": "facility",
            "payer": "medicare",
            "billing_entity": "hospital",
            "department_status": "on_campus",
            "diagnoses": "c83.30, Z51.11",
        },
    )
    encounter = Encounter.objects.get(patient_mrn="MRN-7")
    assert response.status_code == 302
    assert response["Location"] == reverse("charges:encounter", args=[encounter.pk])
    assert encounter.diagnoses == ["C83.30", "Z51.11"]
    assert encounter.created_by == nurse


def test_new_encounter_bad_input_keeps_what_was_typed(client_for, nurse, center, codebook):
    response = client_for(nurse).post(
        reverse("charges:encounter_new"),
        {"center": center.pk, "service_date": "2025-03-04", "patient_name": "Grace Hopper", "diagnoses": "notacode"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Not an ICD-10-CM code: NOTACODE" in body
    assert 'value="Grace Hopper"' in body
    assert Encounter.objects.count() == 0


def test_encounter_page_labels_and_buttons(client_for, nurse, encounter):
    client = client_for(nurse)
    page = client.get(reverse("charges:encounter", args=[encounter.pk])).content.decode()
    assert "Add administration" in page
    assert 'aria-live="polite"' in page and "Charges preview" in page
    assert ">Sign<" in page
    form = client.get(reverse("charges:administration_new", args=[encounter.pk]), HTTP_HX_REQUEST="true")
    html = form.content.decode()
    for label in ("Drug", "Route", "Site", "Start", "Stop", "Dose", "Wasted"):
        assert f">{label}</label>" in html, label
    assert ">Now</button>" in html and ">Save</button>" in html


def test_e2e_flow_through_the_forms(client_for, nurse, encounter):
    client = client_for(nurse)
    assert post_new(client, encounter).status_code == 200
    post_new(client, encounter, drug="Benadryl", route="iv_push", start_time="09:45", stop_time="", dose="25")
    post_new(
        client,
        encounter,
        drug="saline",
        route="iv_infusion",
        purpose="hydration",
        start_time="10:00",
        stop_time="14:10",
        dose="1000",
        dose_unit="mL",
        wasted="",
    )
    assert Administration.objects.filter(encounter=encounter).count() == 3
    assert set(Administration.objects.values_list("hcpcs", flat=True)) == {"J9312", "J1200", "J7050"}
    preview = client.get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert 'data-code="96413"' in preview
    assert 'data-code="96415" data-units="3"' in preview
    assert 'data-code="96375"' in preview
    assert "96360" not in preview and "96361" not in preview
    assert "HYDRATION_UNDER_31" in preview and "Hydration under 31 minutes" in preview
    ritux = Administration.objects.get(hcpcs="J9312")
    client.post(
        reverse("charges:administration_edit", args=[encounter.pk, ritux.pk]),
        form_data(stop_time="", version=str(ritux.version)),
        HTTP_HX_REQUEST="true",
    )
    preview = client.get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert "MISSING_STOP_TIME" in preview and "Missing stop time" in preview


def test_encounter_page_shows_the_preview_on_first_render(client_for, nurse, encounter):
    """A full page load (not only the htmx refresh) shows the derived lines: a reload never says "No charges yet"."""
    client = client_for(nurse)
    post_new(client, encounter, drug="ondansetron", route="iv_push", start_time="11:00", stop_time="", dose="")
    page = client.get(reverse("charges:encounter", args=[encounter.pk])).content.decode()
    assert 'data-code="96374"' in page
    assert "No charges yet" not in page


@pytest.mark.parametrize(
    "overrides,field_id,message",
    [
        ({"stop_date": DOS.isoformat(), "stop_time": "09:00"}, "id_stop_time", "Stop must be after start."),
        ({"start_time": "22:00", "stop_time": "01:30"}, "id_stop_time", "01:30 tomorrow?"),
        (
            {"stop_date": "2025-03-05", "stop_time": "14:10"},
            "id_stop_time",
            "An administration cannot last more than 24 hours, except a prolonged pump.",
        ),
        ({"start_date": "2999-01-01"}, "id_start_time", "Start is more than 5 minutes in the future."),
        ({"dose_unit": "mL"}, "id_dose_unit", "cannot be converted to mg"),
        ({"dose": "-5"}, "id_dose", "Dose must be greater than zero."),
        ({"start_time": "25:99"}, "id_start_time", "is not a time of day"),
        ({"pause-0-start": "15:00", "pause-0-stop": "15:20"}, "pause-errors", "Each pause must fall inside"),
        ({"wasted": "-1"}, "id_wasted", "Wasted cannot be negative."),
    ],
)
def test_every_validation_message_next_to_its_field(client_for, nurse, encounter, overrides, field_id, message):
    response = post_new(client_for(nurse), encounter, **overrides)
    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    # the message sits next to its field: the error block follows the field's input
    if field_id != "pause-errors":
        assert body.index(f'id="{field_id}"') < body.index(message)
        assert f'id="{field_id}_error"' in body
    else:
        assert 'id="pause-errors"' in body
    assert 'value="rituximab"' in body  # what was typed is kept
    assert Administration.objects.count() == 0


def test_next_day_offer_accepted(client_for, nurse, encounter):
    post_new(client_for(nurse), encounter, start_time="22:00", stop_time="01:30", stop_next_day="on")
    adm = Administration.objects.get()
    assert adm.stop_at == at("01:30", datetime.date(2025, 3, 5))


def test_ambiguous_time_asks_which_one(client_for, nurse, encounter):
    day = "2025-11-02"
    encounter.service_date = datetime.date(2025, 11, 2)
    encounter.save()
    client = client_for(nurse)
    body = post_new(client, encounter, start_date=day, start_time="01:30", stop_time="03:00").content.decode()
    assert "happens twice on 2025-11-02" in body and "01:30 EDT (the first)" in body
    post_new(client, encounter, start_date=day, start_time="01:30", start_fold="1", stop_time="03:00")
    adm = Administration.objects.get()
    assert adm.start_at.utcoffset() == datetime.timedelta(0)
    assert adm.start_at.hour == 6  # 01:30 EST = 06:30 UTC


def test_another_centers_encounter_is_404(client_for, other_nurse, encounter):
    client = client_for(other_nurse)
    for name in ("charges:encounter", "charges:preview", "charges:administration_new", "charges:encounter_edit"):
        assert client.get(reverse(name, args=[encounter.pk])).status_code == 404
    assert client.post(reverse("charges:encounter_sign", args=[encounter.pk])).status_code == 404
    assert post_new(client, encounter).status_code == 404
    assert Administration.objects.count() == 0


def test_coder_may_not_use_charting(client_for, coder, encounter):
    assert client_for(coder).get(reverse("charges:encounter", args=[encounter.pk])).status_code == 403


def test_concurrent_edit_says_who_and_keeps_input(client_for, nurse, nurse2, encounter):
    adm = chart(encounter, nurse)
    first, second = client_for(nurse), client_for(nurse2)
    url = reverse("charges:administration_edit", args=[encounter.pk, adm.pk])
    ok = first.post(url, form_data(stop_time="14:20", version=str(adm.version)), HTTP_HX_REQUEST="true")
    assert ok.status_code == 200
    stale = second.post(url, form_data(stop_time="14:45", dose="650", version=str(adm.version)), HTTP_HX_REQUEST="true")
    body = stale.content.decode()
    assert f"This was changed by {nurse.get_full_name()} at " in body and "Reload" in body
    assert 'value="14:45"' in body and 'value="650"' in body
    adm.refresh_from_db()
    assert adm.stop_at == at("14:20")


def test_board_shows_running_and_stop_now(client_for, nurse, encounter):
    import time_machine

    adm = chart(encounter, nurse, stop_at=None)
    client = client_for(nurse)
    with time_machine.travel(at("12:00"), tick=False):
        board = client.get(reverse("charges:board")).content.decode()
        assert "Ada Lovelace" in board
        assert "Running" in board and "Stop now" in board
        client.post(reverse("charges:administration_stop", args=[adm.pk]))
    adm.refresh_from_db()
    assert adm.stop_at == at("12:00")


def test_sign_refused_while_stop_missing_then_signed(client_for, nurse, encounter):
    adm = chart(encounter, nurse, stop_at=None)
    client = client_for(nurse)
    response = client.post(reverse("charges:encounter_sign", args=[encounter.pk]), follow=True)
    assert "has no stop time" in response.content.decode()
    encounter.refresh_from_db()
    assert encounter.status == "open"
    from charges.services.administrations import administration_update

    administration_update(administration=adm, actor=nurse, values={"stop_at": at("14:10")})
    response = client.post(reverse("charges:encounter_sign", args=[encounter.pk]), follow=True)
    encounter.refresh_from_db()
    assert encounter.status == "signed"
    assert set(encounter.charge_sets.values_list("status", flat=True)) == {"ready"}


def test_drug_search_view(client_for, nurse, codebook):
    client = client_for(nurse)
    for query in ("ritux", "Rituxan", "rituximb"):
        body = client.get(reverse("charges:drug_search"), {"q": query}).content.decode()
        assert 'data-hcpcs="J9312"' in body


def test_without_javascript_the_form_posts_and_redirects(client_for, nurse, encounter):
    client = client_for(nurse)
    page = client.get(reverse("charges:administration_new", args=[encounter.pk]))
    assert page.status_code == 200 and "<html" in page.content.decode()
    response = post_new(client, encounter, htmx=False)
    assert response.status_code == 302 and response["Location"] == reverse("charges:encounter", args=[encounter.pk])
    assert Administration.objects.count() == 1


def test_encounter_details_conflict_keeps_input(client_for, nurse, nurse2, encounter):
    url = reverse("charges:encounter_edit", args=[encounter.pk])
    base = {
        "center": encounter.center_id,
        "service_date": "2025-03-04",
        "patient_mrn": "MRN-1001",
        "setting": "facility",
        "payer": "medicare",
        "billing_entity": "hospital",
        "department_status": "on_campus",
        "version": str(encounter.version),
    }
    assert client_for(nurse).post(url, {**base, "patient_name": "Ada King"}).status_code == 302
    stale = client_for(nurse2).post(url, {**base, "patient_name": "Ada Byron"})
    body = stale.content.decode()
    assert f"This was changed by {nurse.get_full_name()}" in body and 'value="Ada Byron"' in body
    encounter.refresh_from_db()
    assert encounter.patient_name == "Ada King"
