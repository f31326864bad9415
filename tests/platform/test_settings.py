"""Settings driven by the environment: production flags, required secrets, clear messages (SEC-11, SEC-12)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]
PROD_SECRET = "k" * 20 + "Q7-x_" * 9  # 65 characters, not "django-insecure-"


def run_manage(*args: str, env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


@functools.cache
def _prod_settings(names: tuple[str, ...], extra_env: tuple[tuple[str, str], ...]) -> dict:
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}, default=str))"
    )
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DJANGO_SETTINGS_MODULE": "infusioncenter.settings",
        "DEBUG": "0",
        "SECRET_KEY": PROD_SECRET,
        "ALLOWED_HOSTS": "charges.example.org",
        **dict(extra_env),
    }
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


ALL_NAMES = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_HTTPONLY",
    "SESSION_COOKIE_NAME",
    "CSRF_COOKIE_NAME",
    "SESSION_COOKIE_SAMESITE",
    "CSRF_COOKIE_SAMESITE",
    "SECURE_CONTENT_TYPE_NOSNIFF",
    "X_FRAME_OPTIONS",
    "SECURE_REFERRER_POLICY",
    "SESSION_EXPIRE_AT_BROWSER_CLOSE",
    "SESSION_COOKIE_AGE",
    "CELERY_TASK_ALWAYS_EAGER",
    "CELERY_BROKER_URL",
    "CELERY_RESULT_BACKEND",
    "PASSWORD_HASHERS",
    "ALLOWED_HOSTS",
    "OTP_REQUIRED",
)


def prod_settings_values() -> dict:
    """Every setting of ALL_NAMES as production sees it."""
    return _prod_settings(ALL_NAMES, ())


def prod_settings(names: list[str], extra_env: dict[str, str] | None = None) -> dict:
    """Settings as a production process (DEBUG=0 + the two required variables) sees them; one subprocess."""
    values = _prod_settings(ALL_NAMES, tuple(sorted((extra_env or {}).items())))
    return {name: values[name] for name in names}


@pytest.mark.slow
def test_check_deploy_is_clean_with_only_the_three_production_variables():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={"DEBUG": "0", "SECRET_KEY": PROD_SECRET, "ALLOWED_HOSTS": "charges.example.org"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_off_without_secret_key_is_a_clear_message_not_a_traceback():
    result = run_manage("check", env={"DEBUG": "0", "ALLOWED_HOSTS": "charges.example.org"})
    assert result.returncode == 2
    assert "SECRET_KEY is required when DEBUG is off" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_defaults_to_off():
    result = run_manage("check", env={"ALLOWED_HOSTS": "charges.example.org"})
    assert result.returncode == 2
    assert "SECRET_KEY is required" in result.stderr


def test_debug_off_without_allowed_hosts_is_refused():
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": PROD_SECRET})
    assert result.returncode == 2
    assert "ALLOWED_HOSTS is required" in result.stderr


def test_short_secret_key_is_refused():
    result = run_manage("check", env={"DEBUG": "0", "SECRET_KEY": "short", "ALLOWED_HOSTS": "x.org"})
    assert result.returncode == 2
    assert "at least 50 characters" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DEBUG": "maybe"}, "DEBUG must be one of"),
        ({"DEBUG": "1", "DATABASE_URL": "nosuchdb://x"}, "DATABASE_URL is not a valid database URL"),
        ({"DEBUG": "1", "CONN_MAX_AGE": "ten"}, "CONN_MAX_AGE must be an integer"),
    ],
)
def test_bad_environment_values_give_one_clear_line(env, message):
    result = run_manage("check", env=env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_production_flags_are_all_on_with_debug_off():
    values = prod_settings(
        [
            "DEBUG",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            "SECURE_HSTS_INCLUDE_SUBDOMAINS",
            "SECURE_HSTS_PRELOAD",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SESSION_COOKIE_HTTPONLY",
            "SESSION_COOKIE_NAME",
            "CSRF_COOKIE_NAME",
            "SESSION_COOKIE_SAMESITE",
            "CSRF_COOKIE_SAMESITE",
            "SECURE_CONTENT_TYPE_NOSNIFF",
            "X_FRAME_OPTIONS",
            "SECURE_REFERRER_POLICY",
            "SESSION_EXPIRE_AT_BROWSER_CLOSE",
            "SESSION_COOKIE_AGE",
            "CELERY_TASK_ALWAYS_EAGER",
            "PASSWORD_HASHERS",
            "ALLOWED_HOSTS",
        ]
    )
    assert values["DEBUG"] is False
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["SESSION_COOKIE_HTTPONLY"] is True
    assert values["SESSION_COOKIE_NAME"] == "__Host-sessionid"
    assert values["CSRF_COOKIE_NAME"] == "__Host-csrftoken"
    assert values["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert values["CSRF_COOKIE_SAMESITE"] == "Strict"
    assert values["SECURE_CONTENT_TYPE_NOSNIFF"] is True
    assert values["X_FRAME_OPTIONS"] == "DENY"
    assert values["SECURE_REFERRER_POLICY"] == "same-origin"
    assert values["SESSION_EXPIRE_AT_BROWSER_CLOSE"] is True
    assert values["SESSION_COOKIE_AGE"] == 12 * 3600
    assert values["ALLOWED_HOSTS"] == ["charges.example.org"]
    # Production keeps Django's strong default hasher; the fast one is for tests only.
    assert "MD5" not in values["PASSWORD_HASHERS"][0]


def test_redis_url_switches_celery_from_eager_to_the_broker():
    without = prod_settings(["CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL"])
    assert without["CELERY_TASK_ALWAYS_EAGER"] is True
    with_redis = prod_settings(
        ["CELERY_TASK_ALWAYS_EAGER", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"],
        {"REDIS_URL": "redis://127.0.0.1:6379/3"},
    )
    assert with_redis["CELERY_TASK_ALWAYS_EAGER"] is False
    assert with_redis["CELERY_BROKER_URL"] == "redis://127.0.0.1:6379/3"
    assert with_redis["CELERY_RESULT_BACKEND"] == "redis://127.0.0.1:6379/3"


def test_tests_run_with_a_fast_hasher_and_eager_celery(settings):
    assert settings.PASSWORD_HASHERS == ["django.contrib.auth.hashers.MD5PasswordHasher"]
    assert settings.CELERY_TASK_ALWAYS_EAGER is True
    assert settings.USE_TZ is True


@pytest.mark.django_db
def test_login_sets_host_prefixed_secure_cookies_under_production_cookie_settings(client, nurse, password):
    names = [
        "SESSION_COOKIE_NAME",
        "CSRF_COOKIE_NAME",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "CSRF_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "CSRF_COOKIE_SAMESITE",
    ]
    prod = prod_settings(names)
    with override_settings(**prod):
        page = client.get(reverse("accounts:login"), secure=True)
        response = client.post(reverse("accounts:login"), {"username": "nurse", "password": password}, secure=True)
    assert response.status_code == 302
    session = response.cookies["__Host-sessionid"]
    assert session["secure"] and session["httponly"]
    assert session["samesite"] == "Lax"
    assert session["path"] == "/"
    assert not session["domain"]
    csrf = page.cookies["__Host-csrftoken"]
    assert csrf["secure"] and csrf["samesite"] == "Strict" and csrf["path"] == "/"
    assert not csrf["domain"]


@pytest.mark.django_db
def test_every_page_carries_a_content_security_policy_without_inline_allowances(client):
    response = client.get(reverse("accounts:login"))
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert b"<script>" not in response.content
    assert b"style=" not in response.content
