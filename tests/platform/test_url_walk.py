"""SEC-01/SEC-02: every view is declared in accounts.access; a role x view matrix."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.admin import site as admin_site
from django.urls import reverse

from accounts.access import SIGNED_IN
from accounts.roles import Role
from tests.factories import UserFactory
from tests.urlwalk import endpoints

ENDPOINTS = endpoints()
PROTECTED = [e for e in ENDPOINTS if not e.is_public]


def test_the_walk_finds_the_platform_views():
    routes = {e.route for e in ENDPOINTS}
    assert {"healthz", "readyz", "accounts/login/", "accounts/access-review/", ""} <= routes
    print(f"URL walk: {len(ENDPOINTS)} endpoints, {len(PROTECTED)} behind a role")


def test_every_view_declares_who_may_open_it():
    undeclared = [f"{e.route} ({e.name or 'unnamed'})" for e in ENDPOINTS if e.access is None]
    assert not undeclared, (
        "views without an access declaration (use accounts.access.role_required or public): " + ", ".join(undeclared)
    )


def test_only_login_logout_and_health_checks_are_public():
    public = sorted(e.route for e in ENDPOINTS if e.is_public)
    allowed = {"healthz", "readyz", "accounts/login/", "accounts/logout/"}
    assert set(public) <= allowed, f"unexpected public views: {sorted(set(public) - allowed)}"


@pytest.mark.django_db
def test_anonymous_is_sent_to_the_login_page(client):
    failures = []
    for endpoint in PROTECTED:
        response = client.get(endpoint.url)
        if response.status_code != 302 or not response["Location"].startswith(reverse(settings.LOGIN_URL)):
            failures.append(f"anonymous: GET {endpoint.url} -> {response.status_code}")
    assert not failures, "\n".join(failures)


def _door(response) -> str:
    """What a response says about access: 'denied' (403), 'login' (sent to sign in), 'error' (5xx) or 'open'."""
    if response.status_code == 403:
        return "denied"
    if response.status_code == 401 or (
        response.status_code == 302 and response["Location"].startswith(reverse(settings.LOGIN_URL))
    ):
        return "login"
    if response.status_code >= 500:
        return "error"
    return "open"


@pytest.mark.django_db
@pytest.mark.parametrize("role", [*Role.values, "none"])
def test_role_matrix(role, users_by_role, client_for):
    """Every protected view x this role: allowed roles get through the door (any status but 401/403, a
    login redirect or a 5xx, with made-up ids usually a 404); every other role gets exactly 403."""
    user = users_by_role.get(role) or UserFactory(username="no_membership")
    client = client_for(user)
    failures = []
    for endpoint in PROTECTED:
        allowed = endpoint.access == SIGNED_IN or (isinstance(endpoint.access, tuple) and role in endpoint.access)
        response = client.get(endpoint.url)
        door = _door(response)
        if (allowed and door != "open") or (not allowed and door != "denied"):
            failures.append(f"{role}: GET {endpoint.url} -> {response.status_code} (allowed={allowed})")
    print(f"role matrix: {role} x {len(PROTECTED)} views")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_a_deactivated_user_is_refused_everywhere(nurse, client_for):
    client = client_for(nurse)
    nurse.is_active = False
    nurse.save()
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse(settings.LOGIN_URL))


# --- the Django admin: staff flags and groups follow the roles ------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.NURSE, Role.CODER])
def test_nurses_and_coders_cannot_open_the_admin(role, users_by_role, client_for):
    user = users_by_role[role]
    assert not user.is_staff
    response = client_for(user).get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


@pytest.mark.django_db
def test_the_codebook_admin_is_staff_but_not_superuser(admin_user, manager):
    assert admin_user.is_staff and not admin_user.is_superuser
    assert admin_user.groups.filter(name="codebook keepers").exists()
    assert manager.is_staff and not manager.is_superuser
    assert manager.groups.filter(name="codebook readers").exists()


def _codebook_models():
    return [model for model in admin_site._registry if model._meta.app_label == "codebook"]


@pytest.mark.django_db
@pytest.mark.parametrize("model", _codebook_models(), ids=lambda m: m._meta.model_name)
def test_codebook_admin_rights_by_role(model, admin_user, manager, client_for):
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    add = reverse(f"admin:{opts.app_label}_{opts.model_name}_add")
    keeper = client_for(admin_user)
    reader = client_for(manager)
    assert keeper.get(changelist).status_code == 200
    assert reader.get(changelist).status_code == 200
    assert reader.get(add).status_code == 403
    label = f"{opts.app_label}.%s_{opts.model_name}"
    assert all(admin_user.has_perm(label % action) for action in ("view", "add", "change", "delete"))
    assert manager.has_perm(label % "view")
    assert not any(manager.has_perm(label % action) for action in ("add", "change", "delete"))
