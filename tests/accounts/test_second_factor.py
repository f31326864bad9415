"""SEC-09: a TOTP second factor for admins and managers (required whenever DEBUG is off)."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice


@pytest.fixture
def otp_on(settings):
    settings.OTP_REQUIRED = True


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def sign_in(client, username, password):
    response = client.post(reverse("accounts:login"), {"username": username, "password": password})
    assert response.status_code == 302


@pytest.mark.django_db
def test_production_settings_require_the_second_factor():
    from tests.platform.test_settings import prod_settings_values

    assert prod_settings_values()["OTP_REQUIRED"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["manager", "codebook"])
def test_a_manager_or_admin_without_a_device_must_enroll_first(otp_on, client, manager, admin_user, password, username):
    sign_in(client, username, password)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:otp_setup"))
    setup = client.get(response["Location"])
    assert setup.status_code == 200
    assert b"data:image/svg+xml;base64," in setup.content
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)

    wrong = client.post(reverse("accounts:otp_setup"), {"token": "000000" if code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and b"does not match" in wrong.content
    device.refresh_from_db()
    device.throttling_failure_count = 0
    device.throttling_failure_timestamp = None
    device.save()

    done = client.post(reverse("accounts:otp_setup"), {"token": code(device), "next": "/"})
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get(reverse("home")).status_code == 200
    device.refresh_from_db()
    assert device.confirmed


@pytest.mark.django_db
def test_an_enrolled_manager_is_asked_for_a_code_at_each_sign_in(otp_on, client, manager, password):
    device = TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    sign_in(client, "manager", password)
    response = client.get(reverse("home"))
    assert response["Location"].startswith(reverse("accounts:otp_verify"))
    assert client.get(reverse("admin:index"))["Location"].startswith(reverse("accounts:otp_verify"))
    ok = client.post(reverse("accounts:otp_verify"), {"token": code(device), "next": "/"})
    assert ok.status_code == 302
    assert client.get(reverse("home")).status_code == 200
    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.django_db
def test_a_wrong_or_malformed_code_is_refused_with_a_message(otp_on, client, manager, password):
    TOTPDevice.objects.create(user=manager, name="phone", confirmed=True)
    sign_in(client, "manager", password)
    for token in ["12ab56", "<script>", "1" * 50]:
        response = client.post(reverse("accounts:otp_verify"), {"token": token})
        assert response.status_code == 200
        assert b"alert(" not in response.content
    assert client.get(reverse("home")).status_code == 302


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["nurse", "coder"])
def test_nurses_and_coders_need_no_second_factor(otp_on, client, nurse, coder, password, username):
    sign_in(client, username, password)
    assert client.get(reverse("home")).status_code == 200


@pytest.mark.django_db
def test_health_checks_and_sign_out_stay_open_while_the_code_is_owed(otp_on, client, manager, password):
    sign_in(client, "manager", password)
    assert client.get("/healthz").status_code == 200
    assert client.post(reverse("accounts:logout")).status_code == 302


@pytest.mark.django_db
def test_client_for_gives_staff_a_verified_session(otp_on, manager, client_for):
    assert client_for(manager).get(reverse("home")).status_code == 200
