"""Sign-in throttling: django-axes plus a per-username rule.

Rule 1 (axes itself): a (username, client address) pair is locked after `AXES_FAILURE_LIMIT` (5)
failures for `AXES_COOLOFF_TIME` (15 minutes).

Rule 2 (this handler): a username is locked after `AXES_USERNAME_FAILURE_LIMIT` (20) failures within
`AXES_USERNAME_FAILURE_WINDOW` (1 hour) from any address, so guessing from many addresses is capped
at 20 tries an hour per account (security.md SEC-08: at most 100/hour). The count uses axes' failure
log and ignores failures before the last admin release (`LockoutRelease`).

An admin releases both on the access-review page (`accounts.services.account_unlock`).
"""

from __future__ import annotations

from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessFailureLog
from django.conf import settings
from django.utils import timezone


def username_failures(username: str) -> int:
    """Failures for `username` inside the window and since the last release, from any address."""
    from accounts.models import LockoutRelease

    since = timezone.now() - settings.AXES_USERNAME_FAILURE_WINDOW
    release = LockoutRelease.objects.filter(username=username).order_by("-released_at").first()
    if release is not None and release.released_at > since:
        since = release.released_at
    return AccessFailureLog.objects.filter(username=username, attempt_time__gte=since).count()


def username_locked(username: str | None) -> bool:
    if not username:
        return False
    return username_failures(username) >= settings.AXES_USERNAME_FAILURE_LIMIT


class AccountsAxesHandler(AxesDatabaseHandler):
    """Axes' database handler plus rule 2 above."""

    def is_locked(self, request, credentials: dict | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return username_locked(get_client_username(request, credentials))
