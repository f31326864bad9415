"""SEC-10: the password again before sensitive actions (role changes here; close day and re-send in reports)."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import reverse

from accounts.access import reauth_required, role_required
from accounts.models import Membership

START = dt.datetime(2025, 3, 4, 13, 0, tzinfo=dt.UTC)


def sign_in(client, username, password):
    assert client.post(reverse("accounts:login"), {"username": username, "password": password}).status_code == 302


@pytest.mark.django_db
def test_role_changes_in_the_admin_need_a_recent_password(client, password, center, nurse):
    from django.contrib.auth import get_user_model

    get_user_model().objects.create_superuser("root", "root@example.org", password)
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "root", password)
        url = reverse("admin:accounts_membership_add")
        assert client.get(url).status_code == 200  # just signed in: recent enough
        clock.shift(dt.timedelta(minutes=6))
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:reauth"))
        wrong = client.post(reverse("accounts:reauth"), {"password": "not-it", "next": url})
        assert wrong.status_code == 200 and b"not your password" in wrong.content
        ok = client.post(reverse("accounts:reauth"), {"password": password, "next": url})
        assert ok.status_code == 302 and ok["Location"] == url
        added = client.post(url, {"user": nurse.pk, "center": center.pk, "role": "coder"})
        assert added.status_code == 302
    assert Membership.objects.filter(user=nurse, role="coder").exists()
    nurse.refresh_from_db()
    assert not nurse.is_staff


@pytest.mark.django_db
def test_a_stale_post_keeps_its_fields_for_after_the_password(client, nurse, password):
    @role_required("nurse")
    @reauth_required
    def close_day(request):
        return HttpResponse("closed")

    factory = RequestFactory()
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "nurse", password)
        clock.shift(dt.timedelta(minutes=6))
        request = factory.post("/reports/close/", {"day": "2025-03-04"}, HTTP_REFERER="http://testserver/reports/")
        request.user = nurse
        request.session = client.session
        response = close_day(request)
        assert response.status_code == 302
        assert response["Location"] == reverse("accounts:reauth") + "?next=%2Freports%2F"
        assert request.session["_form_refill"]["fields"] == {"day": ["2025-03-04"]}
        assert request.session["_form_refill"]["path"] == "/reports/"
        request.session["_reauthenticated_at"] = START.timestamp() + 6 * 60
        assert close_day(request).content == b"closed"
