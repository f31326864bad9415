"""SEC-08: sign-in lockout per (username, address) and per username; an admin unlocks."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.lockout import username_failures

LOGIN = "/accounts/login/"


def attempt(client, username, password, address="10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def signed_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == reverse("home")


@pytest.mark.django_db
def test_five_failures_lock_the_username_and_address_even_with_the_right_password(client, nurse, password):
    for _ in range(5):
        response = attempt(client, "nurse", "wrong-password")
        assert response.status_code in (200, 429)
    locked = attempt(client, "nurse", password)
    assert locked.status_code == 429
    assert b"temporarily locked" in locked.content
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_four_failures_do_not_lock(client, nurse, password):
    for _ in range(4):
        assert attempt(client, "nurse", "wrong-password").status_code == 200
    assert signed_in(attempt(client, "nurse", password))


@pytest.mark.django_db
def test_the_lock_is_per_address_for_the_first_rule(client, nurse, password):
    for _ in range(5):
        attempt(client, "nurse", "wrong-password", address="10.0.0.1")
    assert attempt(client, "nurse", password, address="10.0.0.1").status_code == 429
    assert signed_in(attempt(client, "nurse", password, address="10.0.0.2"))


@pytest.mark.django_db
def test_the_lock_expires_after_the_cool_off(client, nurse, password):
    import time_machine
    from django.utils import timezone

    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        for _ in range(5):
            attempt(client, "nurse", "wrong-password")
        assert attempt(client, "nurse", password).status_code == 429
        traveller.shift(16 * 60)
        assert signed_in(attempt(client, "nurse", password))


@pytest.mark.django_db
def test_twenty_failures_from_many_addresses_lock_the_username_everywhere(client, nurse, password):
    for i in range(20):
        attempt(client, "nurse", "wrong-password", address=f"10.1.{i // 2}.1")  # 2 failures per address
    assert username_failures("nurse") == 20
    response = attempt(client, "nurse", password, address="192.0.2.77")
    assert response.status_code == 429
    # Another user is not affected.


@pytest.mark.django_db
def test_nineteen_failures_from_many_addresses_do_not_lock(client, nurse, password):
    for i in range(19):
        attempt(client, "nurse", "wrong-password", address=f"10.1.{i // 2}.1")
    assert signed_in(attempt(client, "nurse", password, address="192.0.2.77"))


@pytest.mark.django_db
def test_an_admin_unlocks_both_rules(client, nurse, password, admin_user, client_for):
    for i in range(20):
        attempt(client, "nurse", "wrong-password", address=f"10.2.{i // 4}.1")  # 4 per address
    for _ in range(5):
        attempt(client, "nurse", "wrong-password", address="10.9.9.9")
    assert attempt(client, "nurse", password, address="10.9.9.9").status_code == 429

    admin = client_for(admin_user)
    review = admin.get(reverse("accounts:access_review"))
    assert b"nurse" in review.content and b"all addresses" in review.content
    response = admin.post(reverse("accounts:unlock"), {"username": "nurse"})
    assert response.status_code == 302

    assert username_failures("nurse") == 0
    assert signed_in(attempt(client, "nurse", password, address="10.9.9.9"))


@pytest.mark.django_db
def test_only_an_admin_may_unlock(client, nurse, manager, client_for):
    for _ in range(5):
        attempt(client, "nurse", "wrong-password")
    response = client_for(manager).post(reverse("accounts:unlock"), {"username": "nurse"})
    assert response.status_code == 403
    from axes.models import AccessAttempt

    assert AccessAttempt.objects.filter(username="nurse").exists()


@pytest.mark.django_db
def test_unlock_form_rejects_an_empty_username_with_a_message(admin_user, client_for):
    client = client_for(admin_user)
    response = client.post(reverse("accounts:unlock"), {"username": ""}, follow=True)
    assert response.status_code == 200
    assert b"Give the username to unlock" in response.content


@pytest.mark.django_db
def test_an_admin_cannot_unlock_a_user_of_another_center_or_nobody(client, other_nurse, admin_user, client_for):
    from accounts.models import LockoutRelease

    for _ in range(5):
        attempt(client, "other_nurse", "wrong-password")
    admin = client_for(admin_user)
    for username in ("other_nurse", "nobody-at-all"):
        response = admin.post(reverse("accounts:unlock"), {"username": username}, follow=True)
        assert b"No user of your centers is called" in response.content
    assert not LockoutRelease.objects.exists()
    assert attempt(client, "other_nurse", "correct-horse-battery-9").status_code == 429
