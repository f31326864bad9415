"""Operations views (/healthz, /readyz), the home page and the error pages."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.access import public, role_required, user_roles
from infusioncenter.navigation import links_for

logger = logging.getLogger(__name__)


@public
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. No database, no sign-in, no patient data."""
    return JsonResponse({"status": "ok"})


def _check_database() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return False, f"database unreachable ({exc.__class__.__name__})"
    return True, "ok"


def _check_migrations() -> tuple[bool, str]:
    try:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as exc:
        return False, f"cannot read migrations ({exc.__class__.__name__})"
    return (not plan), ("ok" if not plan else f"{len(plan)} migration(s) not applied")


def _check_redis() -> tuple[bool, str]:
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        return False, f"redis unreachable ({exc.__class__.__name__})"
    return True, "ok"


def _check_worker() -> tuple[bool, str]:
    from infusioncenter.celery import app

    try:
        replies = app.control.ping(timeout=1.0)
    except Exception as exc:  # noqa: BLE001 - any broker failure means "not ready"
        return False, f"cannot reach workers ({exc.__class__.__name__})"
    return (bool(replies), "ok" if replies else "no worker answered")


def _check_beat() -> tuple[bool, str]:
    """Informational: when beat last ran the heartbeat task (it never fails readiness)."""
    import redis

    try:
        raw = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).get(settings.WORKER_HEARTBEAT_KEY)
    except redis.RedisError:
        return True, "unknown"
    if raw is None:
        return True, "no heartbeat yet (is beat running?)"
    age = time.time() - float(raw)
    return True, f"last heartbeat {age:.0f}s ago"


@public
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, migrations, and Redis plus a worker when REDIS_URL is set. 503 if not ready."""
    checks = {"database": _check_database()}
    if checks["database"][0]:
        checks["migrations"] = _check_migrations()
    if settings.REDIS_URL:
        checks["redis"] = _check_redis()
        if checks["redis"][0]:
            checks["worker"] = _check_worker()
            checks["beat"] = _check_beat()
    ready = all(ok for ok, _ in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": {k: msg for k, (ok, msg) in checks.items()}}
    return JsonResponse(body, status=200 if ready else 503)


@role_required()
def home(request: HttpRequest) -> HttpResponse:
    roles = user_roles(request.user)
    return render(request, "home.html", {"links": links_for(request.user), "roles": sorted(roles)})


def _error(request: HttpRequest, template: str, status: int) -> HttpResponse:
    context = {"request_id": getattr(request, "request_id", "")}
    return render(request, template, context, status=status)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, "400.html", 400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, "403.html", 403)


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _error(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 page shows the request id and nothing else; it renders without context processors."""
    from django.template import loader

    request_id = getattr(request, "request_id", "")
    try:
        body = loader.get_template("500.html").render({"request_id": request_id})
    except Exception:  # noqa: BLE001 - the error page must never fail
        body = f"<!doctype html><title>Server error</title><p>Something went wrong. Request id: {request_id}</p>"
    response = HttpResponse(body, status=500)
    return response
