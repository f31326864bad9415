"""TOTP second factor (django-otp) for admins, managers and staff (issue 7 item 3, security.md SEC-09).

With `OTP_REQUIRED` (on whenever DEBUG is off), a signed-in user who holds the admin or manager role, or is
staff, must verify a TOTP code before any page other than the second-factor pages, sign-out and the health
checks. A user without a device enrolls first: the setup page shows the key (QR code and text) and asks for
one code to confirm it. django-otp throttles wrong codes (growing delays after each failure).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.access import signed_in, user_roles
from accounts.roles import Role
from accounts.services import audit

SECOND_FACTOR_ROLES = frozenset({Role.ADMIN, Role.MANAGER})
#: Paths a user who still owes a second factor may open.
EXEMPT_URL_NAMES = ("accounts:otp_verify", "accounts:otp_setup", "accounts:logout", "healthz", "readyz")


def needs_second_factor(user) -> bool:
    if not getattr(settings, "OTP_REQUIRED", False) or not user.is_authenticated:
        return False
    return user.is_staff or user.is_superuser or bool(user_roles(user) & SECOND_FACTOR_ROLES)


def is_verified(user) -> bool:
    return bool(getattr(user, "is_verified", lambda: False)())


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


class SecondFactorMiddleware:
    """Sends a user who owes a second factor to the verify (or setup) page. After OTPMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and needs_second_factor(user) and not is_verified(user):
            exempt = {reverse(name) for name in EXEMPT_URL_NAMES}
            static_prefix = "/" + settings.STATIC_URL.lstrip("/")
            if request.path not in exempt and not request.path.startswith(static_prefix):
                target = "accounts:otp_verify" if confirmed_device(user) else "accounts:otp_setup"
                next_path = request.get_full_path() if request.method == "GET" else "/"
                url = f"{reverse(target)}?{urlencode({'next': next_path})}"
                if request.headers.get("HX-Request"):
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = url
                    return response
                return redirect(url)
        return self.get_response(request)


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        min_length=6,
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}),
    )

    def clean_token(self) -> str:
        token = self.cleaned_data["token"].strip().replace(" ", "")
        if not token.isdigit():
            raise forms.ValidationError("Enter the digits shown by your authenticator app.")
        return token


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("home")


def _qr_data_uri(text: str) -> str:
    import qrcode
    import qrcode.image.svg

    buffer = io.BytesIO()
    qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage).save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@signed_in
def otp_setup(request: HttpRequest) -> HttpResponse:
    """Enroll a TOTP device: show its key, confirm it with one code."""
    user = request.user
    if confirmed_device(user) is not None:
        return redirect(f"{reverse('accounts:otp_verify')}?{urlencode({'next': _next(request)})}")
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            audit(action="auth.otp_enroll", actor=user, obj=user)
            messages.success(request, "Second factor set up.")
            return redirect(_next(request))
        form.add_error("token", "That code does not match. Check the time on your phone and try the next code.")
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    context = {"form": form, "qr": _qr_data_uri(device.config_url), "secret": secret, "next": _next(request)}
    return render(request, "accounts/otp_setup.html", context)


@signed_in
def otp_verify(request: HttpRequest) -> HttpResponse:
    """Ask for the current code of the user's device."""
    user = request.user
    device = confirmed_device(user)
    if device is None:
        return redirect(f"{reverse('accounts:otp_setup')}?{urlencode({'next': _next(request)})}")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        allowed, _ = device.verify_is_allowed()
        if allowed and device.verify_token(form.cleaned_data["token"]):
            otp_login(request, device)
            audit(action="auth.otp_verify", actor=user, obj=user)
            return redirect(_next(request))
        audit(durable=True, action="auth.otp_failed", actor=user, obj=user, outcome="failure")
        form.add_error("token", "That code does not match (wait for the next code if you tried several).")
    return render(request, "accounts/otp_verify.html", {"form": form, "next": _next(request)})
