"""Request-wide middleware: request id and audit context, session timeouts, the center's time zone."""

from __future__ import annotations

import importlib
import logging
import re
import uuid
import zoneinfo
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode

from accounts import refill
from infusioncenter.logging import reset_request_id, set_request_id

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{7,63}$")

SESSION_STARTED_KEY = "_session_started_at"
SESSION_ACTIVITY_KEY = "_session_last_activity"
CENTER_SESSION_KEY = "current_center_id"
#: Seconds the stored last-activity time may lag behind the last request (SessionTimeoutMiddleware).
ACTIVITY_WRITE_INTERVAL = 60


def _audit_context():
    """`audit.context` if the audit app provides it (contracts §4), else None."""
    try:
        return importlib.import_module("audit.context")
    except ImportError:
        return None


def client_address(request: HttpRequest) -> str:
    """The client address as Django sees it (REMOTE_ADDR; a TLS proxy must set it correctly)."""
    return request.META.get("REMOTE_ADDR", "") or ""


def bind_audit_context(request: HttpRequest) -> None:
    context = _audit_context()
    if context is None or not hasattr(context, "bind"):
        return
    user = getattr(request, "user", None)
    user_id = user.pk if user is not None and user.is_authenticated else None
    context.bind(
        request_id=getattr(request, "request_id", ""),
        client_address=client_address(request),
        user_id=user_id,
    )


def _clear_audit_context() -> None:
    context = _audit_context()
    if context is not None and hasattr(context, "clear"):
        context.clear()


def _has_nul(request: HttpRequest) -> bool:
    """True when a query or form value (or name) holds a NUL character."""
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    form_types = ("application/x-www-form-urlencoded", "multipart/form-data")
    if request.method == "POST" and request.content_type in form_types:
        for key, values in request.POST.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    return False


class RequestContextMiddleware:
    """Gives each request an id and binds the audit context.

    The id is the incoming `X-Request-ID` when it looks sane (8-64 characters of letters, digits,
    `.`, `_`, `-`), otherwise a new uuid4. It is set on `request.request_id`, on the response header,
    on every log record (infusioncenter.logging) and in `audit.context`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = set_request_id(request_id)
        try:
            bind_audit_context(request)
            if _has_nul(request):
                # PostgreSQL text cannot hold NUL; no form of ours takes one. A clear 400, never a 500.
                from infusioncenter.views import bad_request

                response = bad_request(request)
            else:
                response = self.get_response(request)
        finally:
            _clear_audit_context()
            reset_request_id(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def is_background_poll(request: HttpRequest) -> bool:
    return request.META.get(settings.BACKGROUND_POLL_HEADER, "") == "1"


class SessionTimeoutMiddleware:
    """Idle (15 min) and absolute (12 h) session timeouts, enforced on the server.

    The session stores when it started and when the user last did something. A request carrying
    `X-Background-Poll: 1` (a preview refreshing itself) is not activity: it neither extends the idle
    clock nor saves the session. An expired session is flushed on the server (logout), then the user
    is sent to the login page (htmx requests get an `HX-Redirect`, background polls a 401).

    The last-activity time is written only when it moved by `ACTIVITY_WRITE_INTERVAL` (60 s) or more,
    so most requests do not write the session (no UPDATE and COMMIT per request). The stored time is
    then at most a minute older than the last request: the idle timeout stays exact to the minute,
    and errs on the safe side (a session idle for 15 minutes always ends; one may end up to a minute
    before 15 idle minutes, never after).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = timezone.now().timestamp()
            session = request.session
            started = session.get(SESSION_STARTED_KEY)
            last = session.get(SESSION_ACTIVITY_KEY)
            if started is None or last is None:
                # A session from before this middleware (or set up by a test helper): start the clocks.
                session[SESSION_STARTED_KEY] = started = now
                session[SESSION_ACTIVITY_KEY] = last = now
            idle = settings.SESSION_IDLE_TIMEOUT.total_seconds()
            absolute = settings.SESSION_ABSOLUTE_TIMEOUT.total_seconds()
            if now - last > idle or now - started > absolute:
                return self._expired(request)
            if not is_background_poll(request):
                if now - last >= ACTIVITY_WRITE_INTERVAL:
                    session[SESSION_ACTIVITY_KEY] = now
                if request.method == "GET":
                    request.form_refill = refill.take(request)
        return self.get_response(request)

    def _expired(self, request: HttpRequest) -> HttpResponse:
        logger.info("session expired")
        # The page to come back to: for htmx requests the page that made them, not the fragment URL.
        page_path = request.path
        if request.headers.get("HX-Request") and request.headers.get("HX-Current-URL"):
            page_path = urlsplit(request.headers["HX-Current-URL"]).path or page_path
        kept = None
        if request.method == "POST" and not is_background_poll(request):
            kept = refill.capture(request, request.user.pk, page_path)
        logout(request)
        refill.store(request, kept)
        login_url = reverse(settings.LOGIN_URL)
        if is_background_poll(request):
            return JsonResponse({"error": "session expired"}, status=401)
        # Back to this page after signing in (its path only: never the posted data, never a query string
        # of a POST). A background poll's URL is not a page to come back to.
        next_path = request.get_full_path() if request.method == "GET" and page_path == request.path else page_path
        target = f"{login_url}?{urlencode({'next': next_path, 'expired': '1'})}"
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)


def set_current_center(request: HttpRequest, center_id: int) -> None:
    request.session[CENTER_SESSION_KEY] = center_id


class CenterTimezoneMiddleware:
    """Activates the time zone of the user's current center.

    A user with several centers picks one (accounts' center switch stores it in the session); the
    default is the first by name. `request.center` is that center or None (anonymous, no membership).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from accounts.access import request_access

        request.center = None
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        # One read of the user's memberships for the whole request: the centers here, and the roles that the
        # second-factor check, `role_required` and the navigation bar ask for (accounts.access).
        with request_access(user if signed_in else None) as centers:
            if centers:
                chosen_id = request.session.get(CENTER_SESSION_KEY)
                center = next((c for c in centers if c.pk == chosen_id), centers[0])
                request.center = center
                request.user_centers = centers
                try:
                    timezone.activate(zoneinfo.ZoneInfo(center.time_zone))
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    timezone.deactivate()
            try:
                return self.get_response(request)
            finally:
                timezone.deactivate()
