"""load_demo: DEBUG only, idempotent, every demo user signs in; the deploy check refuses demo users."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.checks import check_no_demo_users
from accounts.models import Center, Membership
from accounts.roles import Role

DEMO_USERNAMES = ["nurse", "nurse2", "coder", "manager", "codebook"]


@pytest.fixture
def demo(db, settings):
    settings.DEBUG = True
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    settings.DEBUG = False


def test_load_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only runs with DEBUG=1"):
        call_command("load_demo")
    assert not get_user_model().objects.exists()


def test_load_demo_creates_two_centers_in_their_zones(demo):
    centers = {c.slug: c for c in Center.objects.all()}
    assert set(centers) == {"riverside", "lakeside"}
    assert centers["riverside"].setting == "facility" and centers["riverside"].time_zone == "America/New_York"
    assert centers["lakeside"].setting == "professional" and centers["lakeside"].time_zone == "America/Chicago"


def test_load_demo_is_idempotent(demo, settings):
    counts = (get_user_model().objects.count(), Center.objects.count(), Membership.objects.count())
    settings.DEBUG = True
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert (get_user_model().objects.count(), Center.objects.count(), Membership.objects.count()) == counts


def test_demo_roles(demo):
    users = {u.username: u for u in get_user_model().objects.all()}
    assert set(users) >= set(DEMO_USERNAMES)
    roles = {name: set(Membership.objects.filter(user=users[name]).values_list("role", flat=True)) for name in users}
    assert roles["nurse"] == {Role.NURSE}
    assert roles["coder"] == {Role.CODER}
    assert roles["manager"] == {Role.MANAGER}
    assert roles["codebook"] == {Role.ADMIN}
    assert users["codebook"].is_staff and not users["codebook"].is_superuser
    assert not users["nurse"].is_staff


@pytest.mark.parametrize("username", DEMO_USERNAMES)
def test_each_demo_user_signs_in_with_the_documented_password(demo, client, settings, username):
    assert settings.DEMO_PASSWORD == "demo-charges-2025!"
    response = client.post(reverse("accounts:login"), {"username": username, "password": settings.DEMO_PASSWORD})
    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == reverse("home")
    assert client.get(reverse("home")).status_code in (200, 302)


def test_demo_password_comes_from_the_environment(db, settings, client):
    settings.DEBUG = True
    settings.DEMO_PASSWORD = "another-demo-pass-77"
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert client.login(username="coder", password="another-demo-pass-77")


def test_deploy_check_fails_when_a_demo_user_exists_with_debug_off(demo, settings):
    settings.DEBUG = False
    errors = check_no_demo_users()
    assert [e.id for e in errors] == ["accounts.E001"]
    assert "nurse" in errors[0].msg


def test_deploy_check_accepts_demo_users_with_debug_on(demo, settings):
    settings.DEBUG = True
    assert check_no_demo_users() == []


def test_deploy_check_passes_once_demo_users_are_deactivated(demo, settings):
    get_user_model().objects.filter(username__in=DEMO_USERNAMES).update(is_active=False)
    settings.DEBUG = False
    assert check_no_demo_users() == []


def test_deploy_check_runs_through_the_check_framework(demo, settings):
    from django.core.management.base import SystemCheckError

    settings.DEBUG = False
    with pytest.raises(SystemCheckError, match="accounts.E001"):
        call_command("check", "--deploy", "--tag", "security")
