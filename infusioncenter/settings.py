"""One settings module, driven by environment variables (see `.env.example`).

`DEBUG` defaults to off. With it off, `SECRET_KEY` and `ALLOWED_HOSTS` are required and every
production flag of security.md §C.2 is on, so `manage.py check --deploy --fail-level WARNING`
passes with nothing else set. `make run`, `make test` and `.ci/run` set `DEBUG=1` themselves.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of 1/0, true/false, yes/no, on/off (got {raw!r})")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer (got {raw!r})") from None


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


# Running under pytest (pytest-django imports this module with pytest loaded) or `manage.py test`.
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

DEBUG = env_bool("DEBUG", default=TESTING)

# --- secrets and hosts -------------------------------------------------------------------------
_DEV_SECRET_KEY = "dev-only-not-secret-" + "x" * 50
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if DEBUG or TESTING:
        SECRET_KEY = _DEV_SECRET_KEY
    else:
        raise ImproperlyConfigured(
            "SECRET_KEY is required when DEBUG is off (set DEBUG=1 for local use, or a random SECRET_KEY "
            "of at least 50 characters, e.g. python -c 'import secrets; print(secrets.token_urlsafe(64))')"
        )
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure-")):
    raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters and not start with 'django-insecure-'")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if not ALLOWED_HOSTS:
    if DEBUG or TESTING:
        ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", "[::1]"]
    else:
        raise ImproperlyConfigured("ALLOWED_HOSTS is required when DEBUG is off (comma-separated host names)")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [f"https://{host}" for host in ALLOWED_HOSTS if host != "*"])

# --- applications ------------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "simple_history",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "audit",
    "codebook",
    "charges",
    "review",
    "reports",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "infusioncenter.middleware.RequestContextMiddleware",
    "infusioncenter.middleware.SessionTimeoutMiddleware",
    "infusioncenter.middleware.CenterTimezoneMiddleware",
    "accounts.second_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # AxesMiddleware last: it turns a lockout flagged during authentication into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "infusioncenter.urls"
WSGI_APPLICATION = "infusioncenter.wsgi.application"
ASGI_APPLICATION = "infusioncenter.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "infusioncenter.context_processors.site",
            ],
        },
    },
]

# --- database ----------------------------------------------------------------------------------
# The demo database (DEBUG on) and the default production file are different files, so a database
# filled by `make run` never turns into a production database by accident (see docs/adr/0001).
VAR_DIR.mkdir(exist_ok=True)
_DEFAULT_SQLITE = VAR_DIR / ("demo.sqlite3" if DEBUG else "db.sqlite3")
try:
    DATABASES = {
        "default": dj_database_url.parse(
            os.environ.get("DATABASE_URL") or f"sqlite:///{_DEFAULT_SQLITE}",
            # persistent connections (seconds; 0 = a new connection per request), checked before reuse
            conn_max_age=env_int("CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
DATABASE_VENDOR = "postgresql" if "postgresql" in DATABASES["default"]["ENGINE"] else "sqlite"
if DATABASE_VENDOR == "sqlite":
    # Wait for a writer instead of failing at once ("database is locked") and take the write lock at
    # BEGIN, which keeps concurrent requests on SQLite serialized rather than deadlocked.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("SQLITE_TEST_NAME") or None}
else:
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("POSTGRES_TEST_NAME") or None}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- authentication ----------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "accounts.backends.ThrottledBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Sign-in throttling (django-axes). Rule 1: a (username, address) pair is locked after
# AXES_FAILURE_LIMIT failures for AXES_COOLOFF_TIME. Rule 2 (accounts.lockout.AccountsAxesHandler):
# a username is locked after USERNAME_FAILURE_LIMIT failures within USERNAME_FAILURE_WINDOW from any
# address. An admin unlocks both on the access-review page (accounts.services.account_unlock).
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
# A refused attempt during a lockout neither extends the cool-off nor counts as a new failure.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_HANDLER = "accounts.lockout.AccountsAxesHandler"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_USERNAME_FAILURE_LIMIT = 20
AXES_USERNAME_FAILURE_WINDOW = timedelta(hours=1)

# TOTP second factor for admins, managers and staff: always on with DEBUG off (accounts.second_factor).
OTP_REQUIRED = env_bool("OTP_REQUIRED", default=not DEBUG)
OTP_TOTP_ISSUER = "Infusion charges"
if not DEBUG:
    OTP_REQUIRED = True

# --- sessions ----------------------------------------------------------------------------------
# Django's SESSION_COOKIE_AGE counts from the last save, so the idle clock lives in
# infusioncenter.middleware.SessionTimeoutMiddleware; requests with the header
# `X-Background-Poll: 1` (htmx previews) do not extend it.
SESSION_IDLE_TIMEOUT = timedelta(minutes=env_int("SESSION_IDLE_MINUTES", 15))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=12)
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_HTTPONLY = True
BACKGROUND_POLL_HEADER = "HTTP_X_BACKGROUND_POLL"

# --- production flags (security.md §C.2) -------------------------------------------------------
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    if env_bool("BEHIND_TLS_PROXY", False):
        # Only behind a proxy that strips and sets this header itself.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"

ADMIN_URL = os.environ.get("ADMIN_URL", "admin/").strip("/") + "/"

# Content security policy: our own scripts and styles only, nothing inline.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# --- internationalization and time ------------------------------------------------------------
LANGUAGE_CODE = "en-us"
# TIME_ZONE is only the default for new centers: each request activates the zone of the user's
# current center (infusioncenter.middleware.CenterTimezoneMiddleware). Times are stored in UTC.
TIME_ZONE = os.environ.get("TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# --- static files ------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Celery ------------------------------------------------------------------------------------
# No REDIS_URL: tasks run eagerly in the web process. Tests always run eagerly, except those marked
# `celery_live`, which start an in-process worker against REDIS_URL.
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = REDIS_URL or None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL or TESTING
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
# Periodic jobs: apps ask the platform owner to add entries here (task name -> schedule).
CELERY_BEAT_SCHEDULE: dict = {
    "platform-heartbeat": {"task": "infusioncenter.heartbeat", "schedule": 30.0},
}
try:
    # Nightly close of the day (off unless REPORTS_NIGHTLY_CLOSE_AT is set); imports no Django models.
    from reports.schedule import beat_schedule as _reports_beat_schedule
except ImportError:
    _reports_beat_schedule = None
if _reports_beat_schedule is not None:
    try:
        CELERY_BEAT_SCHEDULE.update(_reports_beat_schedule())
    except ValueError as exc:
        raise ImproperlyConfigured(f"REPORTS_NIGHTLY_CLOSE_AT: {exc}") from None
WORKER_HEARTBEAT_KEY = "infusioncenter:worker-heartbeat"
WORKER_HEARTBEAT_MAX_AGE = 120

CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL and not TESTING
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- logging: JSON lines with the request id, never patient data ------------------------------
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "infusioncenter.logging.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "infusioncenter.logging.UtcJsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        # Django's request logger includes the request line; our URLs carry ids, never patient data.
        "django.request": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- files, exports and retention ----------------------------------------------------------------
# HL7 DFT messages are also written to this directory when set (empty = off).
HL7_OUTBOX_DIR = os.environ.get("HL7_OUTBOX_DIR", "").strip()
REPORTS_FILES_DIR = Path(os.environ.get("REPORTS_FILES_DIR") or VAR_DIR / "exports")
# Audit rows older than this may be removed by `manage.py purge` (7 years by default; ask compliance).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 2557)

# --- demo data ---------------------------------------------------------------------------------
DEMO_PASSWORD = os.environ.get("DEMO_PASSWORD", "demo-charges-2025!")

SILENCED_SYSTEM_CHECKS: list[str] = []
