"""Regressions found in the browser: the edit form round trip, a lone push's preview, ingredient names."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse

from charges.models import Administration
from tests.charges.conftest import at, chart

pytestmark = pytest.mark.django_db


def _form_fields(html: str) -> dict[str, str]:
    """The values a browser would submit from the rendered form (inputs, checked boxes, selected options)."""
    data: dict[str, str] = {}
    form = html[html.index('<form method="post" action="/charting/encounters/') :]
    form = form[: form.index("</form>")]
    for tag in re.findall(r"<input[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        if not name:
            continue
        kind = (re.search(r'type="([^"]+)"', tag) or [None, "text"])[1]
        value = re.search(r'value="([^"]*)"', tag)
        if kind in ("checkbox", "radio"):
            if "checked" in tag:
                data[name[1]] = value[1] if value else "on"
            continue
        data[name[1]] = value[1] if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        selected = re.search(r'<option value="([^"]*)"[^>]*selected', body)
        data[name] = selected[1] if selected else ""
    return data


def test_edit_form_round_trip_keeps_plain_numbers(client_for, nurse, encounter):
    adm = chart(encounter, nurse, dose=Decimal("700"), wasted=Decimal("0"))
    client = client_for(nurse)
    url = reverse("charges:administration_edit", args=[encounter.pk, adm.pk])
    html = client.get(url).content.decode()
    assert "E+" not in html
    data = _form_fields(html)
    assert data["dose"] == "700" and data["stop_time"] == "14:10"
    data["stop_time"] = "14:20"
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    adm.refresh_from_db()
    assert adm.stop_at == at("14:20") and adm.dose == Decimal("700")
    page = client.get(reverse("charges:encounter", args=[encounter.pk])).content.decode()
    assert "700 mg" in page and "E+" not in page


def test_lone_push_without_dose_is_charged_in_the_preview(client_for, nurse, encounter):
    client = client_for(nurse)
    from tests.charges.test_views import post_new

    post_new(
        client,
        encounter,
        drug="ondansetron",
        route="iv_push",
        start_time="11:00",
        stop_time="",
        dose="",
        dose_unit="",
        wasted="",
    )
    adm = Administration.objects.get()
    assert adm.hcpcs == "J2405"
    body = client.get(reverse("charges:preview", args=[encounter.pk])).content.decode()
    assert 'data-code="96374"' in body, body
    assert "MISSING_DOSE" in body


def test_unique_ingredient_name_resolves(client_for, nurse, codebook):
    from charges.drug_search import exact_match
    from charges.selectors import drug_catalog

    catalog = drug_catalog()
    assert exact_match("diphenhydramine", catalog).hcpcs == "J1200"
    assert exact_match("dextrose 5%", catalog) is None  # two bag sizes share the ingredient: not guessed
