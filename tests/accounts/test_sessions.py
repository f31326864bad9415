"""SEC-06/SEC-07: idle 15 min, absolute 12 h, polling does not extend, logout ends the server session."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

POLL = {"X-Background-Poll": "1"}
START = dt.datetime(2025, 3, 4, 13, 0, tzinfo=dt.UTC)


def sign_in(client, username, password):
    response = client.post(reverse("accounts:login"), {"username": username, "password": password})
    assert response.status_code == 302 and response["Location"] == reverse("home")


def to_login(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.django_db
def test_activity_keeps_the_session_and_16_idle_minutes_end_it(client, nurse, password):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "nurse", password)
        clock.shift(dt.timedelta(minutes=14))
        assert client.get(reverse("home")).status_code == 200
        clock.shift(dt.timedelta(minutes=14))  # 28 min since sign-in, 14 since the last request
        assert client.get(reverse("home")).status_code == 200
        clock.shift(dt.timedelta(minutes=16))
        response = client.get(reverse("home"))
        assert to_login(response)
        assert "expired=1" in response["Location"]
        # The session is gone on the server too: coming back in time does not revive it.
        clock.shift(dt.timedelta(minutes=-16))
        assert to_login(client.get(reverse("home")))


@pytest.mark.django_db
def test_background_polling_every_minute_does_not_keep_the_session_alive(client, nurse, password):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "nurse", password)
        statuses = []
        for _minute in range(1, 21):
            clock.shift(dt.timedelta(minutes=1))
            statuses.append(client.get(reverse("home"), headers=POLL).status_code)
        assert statuses[:15] == [200] * 15
        assert statuses[15] == 401  # minute 16: expired, polls are told so without a redirect
        assert to_login(client.get(reverse("home")))


@pytest.mark.django_db
def test_an_expired_htmx_request_is_redirected_by_htmx(client, nurse, password):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "nurse", password)
        clock.shift(dt.timedelta(minutes=16))
        response = client.get(reverse("home"), headers={"HX-Request": "true"})
        assert response.status_code == 204
        assert response["HX-Redirect"].startswith(reverse(settings.LOGIN_URL))


@pytest.mark.django_db
def test_twelve_hours_end_even_a_busy_session(client, nurse, password):
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "nurse", password)
        for _ in range(51):  # a request every 14 minutes for 11 h 54 min
            clock.shift(dt.timedelta(minutes=14))
            assert client.get(reverse("home")).status_code == 200
        clock.shift(dt.timedelta(minutes=7))
        assert to_login(client.get(reverse("home")))


@pytest.mark.django_db
def test_logout_is_post_only_and_invalidates_the_server_session(client, nurse, password):
    sign_in(client, "nurse", password)
    cookie_name = settings.SESSION_COOKIE_NAME
    old_key = client.cookies[cookie_name].value
    assert client.get(reverse("accounts:logout")).status_code == 405
    assert client.post(reverse("accounts:logout")).status_code == 302
    assert not Session.objects.filter(session_key=old_key, expire_date__gt=timezone.now()).exists()
    client.cookies[cookie_name] = old_key  # replay the old cookie
    assert to_login(client.get(reverse("home")))


@pytest.mark.django_db
def test_the_session_key_rotates_at_sign_in(client, nurse, password):
    client.get(reverse("accounts:login"))
    client.session.save()
    before = client.session.session_key
    sign_in(client, "nurse", password)
    assert client.session.session_key != before


@pytest.mark.django_db
def test_the_centers_time_zone_is_active_and_a_user_may_switch(client_for, nurse, center, other_center):
    from accounts.models import Membership

    Membership.objects.create(user=nurse, center=other_center, role="nurse")
    client = client_for(nurse)
    home = client.get(reverse("home"))
    assert home.context["current_center"] == other_center  # first by name: Lakeside < Riverside
    assert b"America/Chicago" in home.content
    response = client.post(reverse("accounts:switch_center"), {"center": center.pk, "next": "/"})
    assert response.status_code == 302
    home = client.get(reverse("home"))
    assert home.context["current_center"] == center
    assert b"America/New_York" in home.content


@pytest.mark.django_db
def test_switching_to_a_center_that_is_not_yours_is_refused(client_for, nurse, other_center):
    client = client_for(nurse)
    response = client.post(reverse("accounts:switch_center"), {"center": other_center.pk}, follow=True)
    assert b"Choose one of your centers" in response.content
    assert client.get(reverse("home")).context["current_center"] != other_center


@pytest.mark.django_db
def test_switch_center_ignores_an_offsite_next(client_for, nurse, center):
    response = client_for(nurse).post(
        reverse("accounts:switch_center"), {"center": center.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == reverse("home")


# --- a form posted after expiry comes back filled in (issue 7, item 2) ------------------------------------


def _expire_with_a_post(client, clock, password, path="/"):
    sign_in(client, "nurse", password)
    clock.shift(dt.timedelta(minutes=16))
    response = client.post(
        path, {"dose": "125", "note": "second bag", "csrfmiddlewaretoken": "csrf-zq9", "new_password": "hunter2hunter2"}
    )
    assert to_login(response)
    assert "next=%2F" in response["Location"] and "expired=1" in response["Location"]
    assert "second" not in response["Location"]  # the posted data never goes into the URL
    return response


@pytest.mark.django_db
def test_the_same_user_gets_the_form_back_filled_in_after_signing_in_again(client, nurse, password):
    with time_machine.travel(START, tick=False) as clock:
        _expire_with_a_post(client, clock, password)
        clock.shift(dt.timedelta(minutes=2))
        response = client.post(
            reverse("accounts:login") + "?next=/", {"username": "nurse", "password": password, "next": "/"}
        )
        assert response["Location"] == "/"
        page = client.get("/")
        assert page.context["form_refill"] == {"dose": ["125"], "note": ["second bag"]}
        assert b'id="form-refill" type="application/json"' in page.content
        assert b"hunter2" not in page.content and b"csrf-zq9" not in page.content
        assert client.get("/").context["form_refill"] is None  # one time only


@pytest.mark.django_db
def test_another_user_signing_in_on_the_same_browser_never_sees_the_kept_form(client, nurse, nurse2, password):
    with time_machine.travel(START, tick=False) as clock:
        _expire_with_a_post(client, clock, password)
        client.post(reverse("accounts:login"), {"username": "nurse2", "password": password, "next": "/"})
        page = client.get("/")
        assert page.context["form_refill"] is None
        assert b"second bag" not in page.content


@pytest.mark.django_db
def test_the_kept_form_is_dropped_after_ten_minutes(client, nurse, password):
    with time_machine.travel(START, tick=False) as clock:
        _expire_with_a_post(client, clock, password)
        clock.shift(dt.timedelta(minutes=11))
        client.post(reverse("accounts:login"), {"username": "nurse", "password": password, "next": "/"})
        assert client.get("/").context["form_refill"] is None


def _session_writes(queries) -> int:
    return sum(1 for q in queries if q["sql"].startswith("UPDATE") and "django_session" in q["sql"])


@pytest.mark.django_db
def test_the_last_activity_is_written_once_a_minute_not_at_every_request(client, nurse, password):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from infusioncenter.middleware import SESSION_ACTIVITY_KEY

    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "nurse", password)
        for seconds in (1, 30, 59):  # less than a minute after the last written time: no session write
            clock.move_to(START + dt.timedelta(seconds=seconds))
            with CaptureQueriesContext(connection) as queries:
                assert client.get(reverse("home")).status_code == 200
            assert _session_writes(queries.captured_queries) == 0
        assert client.session[SESSION_ACTIVITY_KEY] == START.timestamp()
        clock.move_to(START + dt.timedelta(seconds=60))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse("home")).status_code == 200
        assert _session_writes(queries.captured_queries) == 1
        assert client.session[SESSION_ACTIVITY_KEY] == (START + dt.timedelta(seconds=60)).timestamp()


@pytest.mark.django_db
def test_the_idle_timeout_is_exact_to_the_minute_and_never_late(client, nurse, password):
    """A request less than a minute after the stored activity is not stored: the session may end up to a
    minute before 15 idle minutes, never after."""
    with time_machine.travel(START, tick=False) as clock:
        sign_in(client, "nurse", password)
        clock.move_to(START + dt.timedelta(seconds=50))
        assert client.get(reverse("home")).status_code == 200  # not stored (50 s after the sign-in)
        clock.move_to(START + dt.timedelta(minutes=15))
        assert client.get(reverse("home")).status_code == 200  # 15 min after the stored time: not over it
        clock.move_to(START + dt.timedelta(minutes=30, seconds=1))
        assert to_login(client.get(reverse("home")))  # 15 min 1 s after the last (stored) activity


@pytest.mark.django_db
def test_the_memberships_are_read_once_per_request(settings, client_for, nurse, center, other_center):
    """Current center, second-factor check, role check and navigation share one read of the memberships."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Membership

    settings.OTP_REQUIRED = True
    Membership.objects.create(user=nurse, center=other_center, role="coder")
    client = client_for(nurse)
    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("charges:board"))
    assert page.status_code == 200
    # queries reading the memberships themselves (other queries hold them only as a subquery)
    reads = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].partition(" FROM ")[2].startswith('"accounts_membership"')
    ]
    assert len(reads) == 1, reads
    assert page.context["current_center"] == other_center  # first by name: Lakeside < Riverside
    assert page.context["user_centers"] == [other_center, center]
    assert {url for url, _label in page.context["nav_links"]} >= {reverse("charges:board"), reverse("review:queue")}
