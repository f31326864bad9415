"""SEC-05: every POST the URL walk finds is refused without a CSRF token, for a user allowed to open it."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.access import PUBLIC, SIGNED_IN
from tests.urlwalk import endpoints

ENDPOINTS = endpoints()


def _user_for(endpoint, users_by_role):
    if endpoint.access in (PUBLIC, SIGNED_IN):
        return users_by_role["nurse"]
    return next(users_by_role[role] for role in endpoint.access if role in users_by_role)


@pytest.mark.django_db
def test_posts_without_a_csrf_token_are_refused_everywhere(users_by_role):
    from tests.conftest import _verify_second_factor

    clients = {}
    failures = []
    for endpoint in ENDPOINTS:
        user = _user_for(endpoint, users_by_role)
        client = clients.get(user.pk)
        if client is None:
            client = clients[user.pk] = Client(enforce_csrf_checks=True)
            client.force_login(user)
            _verify_second_factor(client, user)
        response = client.post(endpoint.url, {"anything": "1"})
        if response.status_code != 403:
            failures.append(f"POST {endpoint.url} without a CSRF token -> {response.status_code}")
    print(f"CSRF walk: {len(ENDPOINTS)} endpoints")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_sign_in_needs_a_csrf_token(nurse, password):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "nurse", "password": password})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session
