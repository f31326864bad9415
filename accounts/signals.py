"""Sign-in events: session clocks and audit rows for sign-in, sign-out and failed sign-in."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import transaction
from django.db.models.signals import pre_delete
from django.dispatch import receiver
from django.utils import timezone

from accounts.services import audit

logger = logging.getLogger(__name__)


class UserDeletionRefused(Exception):
    """Users are deactivated, never deleted (their name stays on the audit trail and the charges)."""


@receiver(user_logged_in, dispatch_uid="accounts.logged_in")
def on_logged_in(sender, request, user, **kwargs):
    from infusioncenter.middleware import SESSION_ACTIVITY_KEY, SESSION_STARTED_KEY, bind_audit_context

    if request is not None:
        now = timezone.now().timestamp()
        request.session[SESSION_STARTED_KEY] = now
        request.session[SESSION_ACTIVITY_KEY] = now
        bind_audit_context(request)
    logger.info("sign-in", extra={"user_id": user.pk})
    with transaction.atomic():
        audit(action="auth.login", actor=user, obj=user)


@receiver(user_logged_out, dispatch_uid="accounts.logged_out")
def on_logged_out(sender, request, user, **kwargs):
    if user is None:
        return
    logger.info("sign-out", extra={"user_id": user.pk})
    with transaction.atomic():
        audit(action="auth.logout", actor=user, obj=user)


@receiver(user_login_failed, dispatch_uid="accounts.login_failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    username = str((credentials or {}).get("username", ""))[:150]
    locked = bool(getattr(request, "axes_locked_out", False))
    logger.warning("sign-in failed", extra={"locked_out": locked})
    user = get_user_model().objects.filter(username=username).first() if username else None
    # Durable: a failed sign-in is recorded whatever happens to the request afterwards.
    audit(
        durable=True,
        action="auth.login_failed",
        actor=None,
        object_type="auth.user",
        object_id=str(user.pk) if user else "",
        outcome="denied" if locked else "failure",
        detail={"username": username, "locked_out": locked},
    )


@receiver(pre_delete, sender=get_user_model(), dispatch_uid="accounts.no_user_delete")
def refuse_user_delete(sender, instance, **kwargs):
    raise UserDeletionRefused("Users are deactivated, never deleted: clear 'active' instead.")
