"""Shared fixtures (docs/contracts.md §4): a center, another center, one user per role, client_for().

Also: markers `postgres` (skipped on SQLite) and `celery_live` (skipped without REDIS_URL), the
Hypothesis profiles, and a marker report for .ci/run (PYTEST_MARKER_REPORT=<file>).
"""

from __future__ import annotations

import json
import os

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from accounts.roles import Role
from tests.factories import TEST_PASSWORD, CenterFactory, make_member

# the browser-test fixtures (Playwright + Chromium), shared by every app's e2e tests
pytest_plugins = ["tests.e2e.browser"]

# The same profiles as tests/engine/conftest.py (profiles are global: whichever loads last must agree).
hypothesis_settings.register_profile(
    "dev",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
hypothesis_settings.register_profile(
    "ci",
    max_examples=500,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


# --- markers ---------------------------------------------------------------------------------------


def _database_vendor() -> str:
    from django.conf import settings

    return "postgresql" if "postgresql" in settings.DATABASES["default"]["ENGINE"] else "sqlite"


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and _database_vendor() != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL=postgres://...)")
    if item.get_closest_marker("celery_live") and not os.environ.get("REDIS_URL"):
        pytest.skip("needs a Redis broker (set REDIS_URL=redis://...)")


_marker_counts: dict[str, dict[str, int]] = {}


def pytest_runtest_logreport(report):
    """Counts outcomes of `postgres` and `celery_live` tests for .ci/run."""
    keywords = report.keywords
    for marker in ("postgres", "celery_live", "e2e"):
        if marker not in keywords:
            continue
        counts = _marker_counts.setdefault(marker, {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0})
        if hasattr(report, "wasxfail"):  # an expected failure ran (and failed as expected): not a skip
            counts["xfailed" if report.skipped else "passed"] += 1
        elif report.when == "call":
            counts["passed" if report.passed else "failed" if report.failed else "skipped"] += 1
        elif report.when == "setup" and report.skipped:
            counts["skipped"] += 1
        elif report.when == "setup" and report.failed:
            counts["failed"] += 1


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("PYTEST_MARKER_REPORT")
    if target:
        with open(target, "w", encoding="utf-8") as fh:
            json.dump(_marker_counts, fh, indent=2, sort_keys=True)


# --- per-test hygiene -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


# --- centers and users -----------------------------------------------------------------------------------


@pytest.fixture
def center(db):
    """A hospital outpatient infusion department (facility setting), America/New_York."""
    return CenterFactory(name="Riverside Hospital Infusion", slug="riverside")


@pytest.fixture
def other_center(db):
    """A practice (professional setting), America/Chicago."""
    return CenterFactory(name="Lakeside Oncology Practice", slug="lakeside", practice=True)


@pytest.fixture
def password():
    """The password every factory user has."""
    return TEST_PASSWORD


@pytest.fixture
def nurse(center):
    return make_member(Role.NURSE, center, username="nurse")


@pytest.fixture
def nurse2(center):
    return make_member(Role.NURSE, center, username="nurse2")


@pytest.fixture
def coder(center):
    return make_member(Role.CODER, center, username="coder")


@pytest.fixture
def manager(center):
    return make_member(Role.MANAGER, center, username="manager")


@pytest.fixture
def admin_user(center):
    """The codebook keeper: role admin (staff with codebook model permissions, not a superuser)."""
    return make_member(Role.ADMIN, center, username="codebook")


@pytest.fixture
def other_nurse(other_center):
    """A nurse of `other_center` only: every object of `center` must be a 404 for her."""
    return make_member(Role.NURSE, other_center, username="other_nurse")


@pytest.fixture
def users_by_role(nurse, coder, manager, admin_user):
    return {Role.NURSE: nurse, Role.CODER: coder, Role.MANAGER: manager, Role.ADMIN: admin_user}


def _verify_second_factor(client, user) -> None:
    """Marks the session as having passed the TOTP step (as django_otp.login does), for staff users."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first() or TOTPDevice.objects.create(
        user=user, name="test device", confirmed=True
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


@pytest.fixture
def client_for(db):
    """`client_for(user)` -> a django.test.Client signed in as `user` (through the real login signal).

    Staff users (managers, admins) also pass the second factor, so tests work with OTP_REQUIRED on.
    """
    from django.test import Client

    def make(user, **client_kwargs):
        client = Client(**client_kwargs)
        client.force_login(user)
        if user.is_staff or user.is_superuser:
            _verify_second_factor(client, user)
        return client

    return make


# --- Celery --------------------------------------------------------------------------------------------


@pytest.fixture
def celery_live_worker():
    """An in-process Celery worker (solo pool, a thread) against REDIS_URL; tasks are NOT eager inside.

    Use with `@pytest.mark.celery_live` (skipped without REDIS_URL). Tasks touching the database need
    `@pytest.mark.django_db(transaction=True)`: the worker thread does not see the test's transaction.
    """
    from celery.contrib.testing.worker import start_worker

    from infusioncenter.celery import app

    redis_url = os.environ["REDIS_URL"]
    keys = ("task_always_eager", "broker_url", "result_backend")
    saved = {key: app.conf[key] for key in keys}
    app.conf.update(task_always_eager=False, broker_url=redis_url, result_backend=redis_url)
    try:
        with start_worker(app, pool="solo", perform_ping_check=False, loglevel="WARNING", shutdown_timeout=20):
            yield app
    finally:
        app.conf.update(saved)
