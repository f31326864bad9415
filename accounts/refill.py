"""Refill a form that was posted after the session expired (issue 7, item 2).

When the idle or absolute timeout ends a session on a POST, the posted fields (minus the CSRF token and
anything that looks like a password) are kept server-side in the new anonymous session under a one-time key,
for at most `FORM_REFILL_MAX_AGE`. After the same user signs in again and lands on the same page, the base
layout renders them as a JSON data block (`form-refill`) and `static/js/app.js` fills the page's form with
them; the nurse checks and submits again. Nothing goes into the URL. Another user signing in on the same
browser never sees them.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from django.http import HttpRequest
from django.utils import timezone

SESSION_KEY = "_form_refill"
FORM_REFILL_MAX_AGE = timedelta(minutes=10)
MAX_FIELDS = 200
MAX_VALUE_CHARS = 10_000
_SKIPPED = ("csrfmiddlewaretoken",)


def _keep(name: str) -> bool:
    lowered = name.lower()
    return name not in _SKIPPED and "password" not in lowered and "otp" not in lowered


def capture(request: HttpRequest, user_id: int, page_path: str) -> dict | None:
    """The refillable part of the POST of `request` for the page at `page_path`, or None if nothing to keep."""
    fields: dict[str, list[str]] = {}
    for name in list(request.POST.keys())[:MAX_FIELDS]:
        if _keep(name):
            fields[name[:200]] = [value[:MAX_VALUE_CHARS] for value in request.POST.getlist(name)[:50]]
    if not fields:
        return None
    return {
        "key": secrets.token_urlsafe(16),
        "path": page_path,
        "user_id": user_id,
        "at": timezone.now().timestamp(),
        "fields": fields,
    }


def store(request: HttpRequest, entry: dict | None) -> None:
    if entry is not None:
        request.session[SESSION_KEY] = entry


def take(request: HttpRequest) -> dict[str, list[str]] | None:
    """The kept fields when this is the same user back on the same page in time; else None.

    An entry is handed out once. One of another user, or older than FORM_REFILL_MAX_AGE, is dropped unseen;
    one for another page waits (the user may pass the re-authentication page first).
    """
    if not hasattr(request, "session") or SESSION_KEY not in request.session:
        return None
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    entry = request.session[SESSION_KEY]
    fresh = timezone.now().timestamp() - float(entry.get("at", 0)) <= FORM_REFILL_MAX_AGE.total_seconds()
    if entry.get("user_id") != user.pk or not fresh:
        del request.session[SESSION_KEY]
        return None
    if entry.get("path") != request.path:
        return None
    del request.session[SESSION_KEY]
    return entry.get("fields") or None
