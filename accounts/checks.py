"""System checks: no demo user may exist with DEBUG off."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.db import DatabaseError

DEMO_USERNAMES = ("nurse", "nurse2", "coder", "manager", "codebook")
DEMO_EMAIL_DOMAIN = "demo.invalid"


def demo_users():
    from django.contrib.auth import get_user_model
    from django.db.models import Q

    return get_user_model().objects.filter(
        Q(username__in=DEMO_USERNAMES) | Q(email__iendswith="@" + DEMO_EMAIL_DOMAIN), is_active=True
    )


@register(Tags.security, deploy=True)
def check_no_demo_users(app_configs=None, **kwargs):
    """accounts.E001: demo users (load_demo) are active while DEBUG is off."""
    if settings.DEBUG:
        return []
    try:
        names = sorted(demo_users().values_list("username", flat=True))
    except DatabaseError:
        return []  # no database yet (or not migrated): nothing to find
    if not names:
        return []
    return [
        Error(
            f"Demo user(s) {', '.join(names)} exist while DEBUG is off.",
            hint="This database was filled by load_demo. Deactivate those users, or use a fresh database.",
            id="accounts.E001",
        )
    ]
