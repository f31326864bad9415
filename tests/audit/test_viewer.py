"""The read-only audit viewer (/audit/, admin role) and the read-only Django admin (AUD-02)."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from audit.models import AuditEvent
from audit.services import audit_record
from audit.views import PAGE_SIZE

pytestmark = pytest.mark.django_db

URL = "/audit/"


def listed(response) -> list[AuditEvent]:
    assert response.status_code == 200
    return list(response.context["page"].object_list)


@pytest.fixture
def events(nurse, coder):
    """A small trail: two users, two patients, a few actions, on three days."""
    made = {}
    for day, user, action, patient in [
        (datetime.datetime(2025, 3, 1, 9, tzinfo=datetime.UTC), nurse, "encounter.create", "patient:aaa"),
        (datetime.datetime(2025, 3, 2, 9, tzinfo=datetime.UTC), nurse, "encounter.view", "patient:bbb"),
        (datetime.datetime(2025, 3, 3, 23, 59, tzinfo=datetime.UTC), coder, "chargeset.approve", "patient:aaa"),
    ]:
        with time_machine.travel(day, tick=False):
            made[action] = audit_record(action=action, actor=user, patient_ref=patient, object_type="test.thing")
    return made


def test_the_url_is_audit_events():
    assert reverse("audit:events") == URL


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


@pytest.mark.parametrize("role", ["nurse", "coder", "manager"])
def test_other_roles_are_refused(role, request, client_for):
    user = request.getfixturevalue(role)
    response = client_for(user).get(URL)
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="audit.view").exists()


def test_the_admin_role_sees_the_trail_and_the_view_is_audited(admin_user, client_for, events):
    response = client_for(admin_user).get(URL, {"user": "nurse"})
    assert {e.action for e in listed(response)} == {"encounter.create", "encounter.view"}
    assert b"encounter.create" in response.content
    viewed = AuditEvent.objects.get(action="audit.view")
    assert viewed.user == admin_user
    assert viewed.detail == {"filters": {"user": "nurse"}, "page": 1, "results": 2}
    assert viewed.request_id  # bound by the request middleware


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"user": "coder"}, {"chargeset.approve"}),
        ({"patient": "patient:aaa"}, {"encounter.create", "chargeset.approve"}),
        ({"action": "encounter.view"}, {"encounter.view"}),
        ({"action": "encounter."}, {"encounter.create", "encounter.view"}),
        ({"date_from": "2025-03-02", "date_to": "2025-03-03"}, {"encounter.view", "chargeset.approve"}),
        ({"date_to": "2025-03-01"}, {"encounter.create"}),
        ({"user": "nurse", "patient": "patient:aaa"}, {"encounter.create"}),
        ({"user": "nobody"}, set()),
    ],
)
def test_filters(params, expected, admin_user, client_for, events):
    client = client_for(admin_user)
    found = {e.action for e in listed(client.get(URL, params)) if e.object_type == "test.thing"}
    assert found == expected


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "2025-13-45"},
        {"date_from": "2025-03-03", "date_to": "2025-03-01"},
        {"action": "<script>alert(1)</script>"},
        {"user": "x" * 5000},
        {"date_from": "0001-01-01"},
        {"outcome": "maybe"},
        {"page": "-1"},
        {"page": "abc"},
    ],
)
def test_bad_filters_give_a_message_not_an_error(params, admin_user, client_for, events):
    response = client_for(admin_user).get(URL, params)
    assert response.status_code == 200
    assert b"<script>alert(1)</script>" not in response.content


def test_fifty_rows_a_page(admin_user, client_for):
    for n in range(PAGE_SIZE + 7):
        audit_record(action="test.bulk", detail={"n": n})
    client = client_for(admin_user)
    first = listed(client.get(URL, {"action": "test.bulk"}))
    second = listed(client.get(URL, {"action": "test.bulk", "page": 2}))
    assert (len(first), len(second)) == (PAGE_SIZE, 7)
    assert first[0].detail == {"n": PAGE_SIZE + 6}  # newest first
    assert b"action=test.bulk&amp;page=2" in client.get(URL, {"action": "test.bulk"}).content


def test_the_viewer_cannot_change_anything(admin_user, client_for, events):
    client = client_for(admin_user)
    before = list(AuditEvent.objects.values_list("pk", "hash"))
    assert client.post(URL, {"user": "nurse"}).status_code == 405
    assert list(AuditEvent.objects.filter(pk__in=[pk for pk, _ in before]).values_list("pk", "hash")) == before


def test_the_django_admin_is_read_only(client, events):
    superuser = get_user_model().objects.create_superuser("root-auditor", "r@example.org", "x-very-long-password-1")
    client.force_login(superuser)
    event = events["encounter.create"]
    assert client.get(reverse("admin:audit_auditevent_changelist")).status_code == 200
    assert client.get(reverse("admin:audit_auditevent_add")).status_code == 403
    change_url = reverse("admin:audit_auditevent_change", args=[event.pk])
    page = client.get(change_url)
    assert page.status_code == 200 and b'name="action"' not in page.content  # shown, not editable
    assert client.post(change_url, {"action": "forged.action"}).status_code == 403
    assert client.post(reverse("admin:audit_auditevent_delete", args=[event.pk]), {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.action == "encounter.create"
