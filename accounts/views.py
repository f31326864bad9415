"""Sign-in, sign-out, center switch and the access-review page (role admin)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, get_user_model, logout
from django.contrib.auth import views as auth_views
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from accounts.access import REAUTH_SESSION_KEY, centers_for, public, role_required, signed_in
from accounts.forms import LoginForm, UnlockForm
from accounts.models import Membership
from accounts.roles import Role
from accounts.services import AccountError, account_unlock, audit, user_deactivate
from infusioncenter.middleware import set_current_center
from infusioncenter.params import parse_whole_number


@method_decorator(public, name="dispatch")
class LoginView(auth_views.LoginView):
    template_name = "registration/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["expired"] = self.request.GET.get("expired") == "1"
        return context


@method_decorator(public, name="dispatch")
class LogoutView(auth_views.LogoutView):
    """Sign-out by POST only (Django 5); the server-side session is flushed."""


@role_required()
@require_POST
def switch_center(request: HttpRequest) -> HttpResponse:
    """Makes one of the user's centers the current one (its time zone applies from the next request)."""
    center_id = parse_whole_number(request.POST.get("center"))
    center = centers_for(request.user).filter(pk=center_id).first() if center_id is not None else None
    if center is None:
        messages.error(request, "Choose one of your centers.")
    else:
        set_current_center(request, center.pk)
        messages.success(request, f"Current center: {center.name}.")
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = settings.LOGIN_REDIRECT_URL
    return redirect(target)


def _locked_usernames() -> list[dict]:
    """Usernames currently locked by either rule, with the failure counts."""
    from axes.models import AccessAttempt

    from accounts.lockout import username_failures

    cutoff = timezone.now() - settings.AXES_COOLOFF_TIME
    rows = {}
    for attempt in AccessAttempt.objects.filter(attempt_time__gte=cutoff).order_by("username"):
        if attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT and attempt.username:
            rows.setdefault(attempt.username, {"username": attempt.username, "addresses": set()})
            rows[attempt.username]["addresses"].add(attempt.ip_address or "?")
    from axes.models import AccessFailureLog

    window = timezone.now() - settings.AXES_USERNAME_FAILURE_WINDOW
    for username in (
        AccessFailureLog.objects.filter(attempt_time__gte=window).values_list("username", flat=True).distinct()
    ):
        if username and username_failures(username) >= settings.AXES_USERNAME_FAILURE_LIMIT:
            rows.setdefault(username, {"username": username, "addresses": set()})
            rows[username]["all_addresses"] = True
    return [{**row, "addresses": ", ".join(sorted(row["addresses"]))} for _, row in sorted(rows.items())]


@role_required(Role.ADMIN)
def access_review(request: HttpRequest) -> HttpResponse:
    """Each user's memberships, active flag and last sign-in; current lockouts with an unlock form."""
    User = get_user_model()
    centers = centers_for(request.user, Role.ADMIN)
    ids = set(User.objects.filter(memberships__center__in=centers).values_list("pk", flat=True))
    ids |= set(User.objects.filter(memberships__isnull=True).values_list("pk", flat=True))
    users = (
        User.objects.filter(pk__in=ids)
        .prefetch_related(
            Prefetch("memberships", queryset=Membership.objects.select_related("center").order_by("center__name"))
        )
        .order_by("username")
    )
    context = {"users": users, "locked": _locked_usernames(), "unlock_form": UnlockForm()}
    return render(request, "accounts/access_review.html", context)


@role_required(Role.ADMIN)
@require_POST
def unlock(request: HttpRequest) -> HttpResponse:
    form = UnlockForm(request.POST)
    if form.is_valid():
        try:
            account_unlock(actor=request.user, username=form.cleaned_data["username"])
        except AccountError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Unlocked {form.cleaned_data['username']}.")
    else:
        messages.error(request, "Give the username to unlock (at most 150 characters).")
    return redirect("accounts:access_review")


@role_required(Role.ADMIN)
@require_POST
def deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    User = get_user_model()
    centers = centers_for(request.user, Role.ADMIN)
    target = get_object_or_404(User.objects.filter(memberships__center__in=centers).distinct(), pk=user_id)
    try:
        user_deactivate(actor=request.user, user=target)
    except AccountError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Deactivated {target.username}.")
    return redirect("accounts:access_review")


class ReauthForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )


@signed_in
def reauth(request: HttpRequest) -> HttpResponse:
    """Password again before a sensitive action (accounts.access.reauth_required). Failures count toward lockout."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        target = reverse("home")
    form = ReauthForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = authenticate(request, username=request.user.get_username(), password=form.cleaned_data["password"])
        if user is not None and user.pk == request.user.pk:
            request.session[REAUTH_SESSION_KEY] = timezone.now().timestamp()
            audit(action="auth.reauth", actor=request.user, obj=request.user)
            return redirect(target)
        if getattr(request, "axes_locked_out", False):
            logout(request)
            return redirect("accounts:login")
        form.add_error("password", "That is not your password.")
    return render(request, "accounts/reauth.html", {"form": form, "next": target})
