"""The start page and navbar offer each role only pages that role may open."""

from __future__ import annotations

import pytest
from django.urls import resolve, reverse

from accounts.access import declared_access
from infusioncenter.navigation import links_for


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["nurse", "coder", "manager", "admin"])
def test_links_lead_to_pages_the_role_may_open(role, users_by_role, client_for):
    user = users_by_role[role]
    links = links_for(user)
    for url, _label in links:
        if url == reverse("admin:index"):
            assert user.is_staff
            continue
        access = declared_access(resolve(url).func)
        assert access is not None and role in access, f"{role} is offered {url} but may not open it"
    home = client_for(user).get(reverse("home"))
    assert home.status_code == 200
    for url, label in links:
        assert url.encode() in home.content and label.encode() in home.content.replace(b"&#x27;", b"'")


@pytest.mark.django_db
def test_the_admin_role_is_offered_the_access_review(admin_user):
    assert (reverse("accounts:access_review"), "Access review") in links_for(admin_user)
