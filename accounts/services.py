"""Account services: memberships, deactivation, lockout release, role groups.

Every change writes its audit row in the same transaction (audit.services.audit_record, once the
audit app provides it). Users are deactivated, never deleted.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from accounts.models import Center, LockoutRelease, Membership
from accounts.roles import CODEBOOK_KEEPERS_GROUP, CODEBOOK_READERS_GROUP, STAFF_ROLES, Role

User = get_user_model()


class AccountError(Exception):
    """A refused account change; the message is shown to the user."""


class CannotDeactivateSelf(AccountError):
    pass


def audit(*, durable: bool = False, **kwargs) -> None:
    """Calls `audit.services.audit_record(**kwargs)` (or `audit_record_durable`, for events that must
    survive a rollback: failed sign-ins, refused access) when the audit app provides it."""
    try:
        from audit import services
    except ImportError:
        return
    write = getattr(services, "audit_record_durable", None) if durable else None
    (write or services.audit_record)(**kwargs)


def sync_role_groups() -> tuple[Group, Group]:
    """Creates the two codebook groups and gives them the codebook app's model permissions.

    Keepers (role admin) get every permission of the codebook models; readers (role manager) the
    view permissions only. Idempotent; runs after every migrate and from load_demo.
    """
    keepers, _ = Group.objects.get_or_create(name=CODEBOOK_KEEPERS_GROUP)
    readers, _ = Group.objects.get_or_create(name=CODEBOOK_READERS_GROUP)
    codebook_perms = Permission.objects.filter(content_type__app_label="codebook")
    keepers.permissions.add(*codebook_perms)
    readers.permissions.add(*codebook_perms.filter(codename__startswith="view_"))
    return keepers, readers


def sync_user_staff(user) -> None:
    """Staff flag and groups follow the user's roles: admin -> keepers, manager -> readers.

    Nurses and coders are never staff, so they cannot open the Django admin. Superusers keep staff.
    """
    roles = set(Membership.objects.filter(user=user, center__is_active=True).values_list("role", flat=True))
    keepers, readers = sync_role_groups()
    if Role.ADMIN in roles:
        user.groups.add(keepers)
    else:
        user.groups.remove(keepers)
    if Role.MANAGER in roles:
        user.groups.add(readers)
    else:
        user.groups.remove(readers)
    is_staff = user.is_superuser or bool(roles & set(STAFF_ROLES))
    if user.is_staff != is_staff:
        user.is_staff = is_staff
        user.save(update_fields=["is_staff"])


@transaction.atomic
def membership_grant(*, actor, user, center: Center, role: str) -> Membership:
    """Gives `user` the `role` at `center` (idempotent) and audits it."""
    if role not in Role.values:
        raise AccountError(f"unknown role {role!r}")
    membership, created = Membership.objects.get_or_create(user=user, center=center, role=role)
    if created:
        membership.full_clean()
        sync_user_staff(user)
        audit(
            action="membership.grant",
            actor=actor,
            obj=membership,
            center_id=center.pk,
            detail={"user_id": user.pk, "role": role},
        )
    return membership


@transaction.atomic
def membership_revoke(*, actor, user, center: Center, role: str) -> bool:
    """Removes `role` at `center` from `user`; True if there was one. Audited."""
    deleted, _ = Membership.objects.filter(user=user, center=center, role=role).delete()
    if deleted:
        sync_user_staff(user)
        audit(
            action="membership.revoke",
            actor=actor,
            object_type="accounts.membership",
            object_id=str(user.pk),
            center_id=center.pk,
            detail={"user_id": user.pk, "role": role},
        )
    return bool(deleted)


@transaction.atomic
def user_deactivate(*, actor, user) -> None:
    """Deactivates a user (never deletes): sign-in refused, sessions ended on the next request."""
    if actor is not None and actor.pk == user.pk:
        raise CannotDeactivateSelf("You cannot deactivate your own account.")
    if not user.is_active:
        return
    user.is_active = False
    user.save(update_fields=["is_active"])
    audit(action="user.deactivate", actor=actor, obj=user, detail={"user_id": user.pk})


@transaction.atomic
def user_reactivate(*, actor, user) -> None:
    if user.is_active:
        return
    user.is_active = True
    user.save(update_fields=["is_active"])
    audit(action="user.reactivate", actor=actor, obj=user, detail={"user_id": user.pk})


@transaction.atomic
def account_unlock(*, actor, username: str) -> int:
    """Releases `username` from both lockout rules; returns the number of axes records removed.

    Only a user of one of the actor's admin centers (any user for a superuser); anything else is refused and
    nothing is written.
    """
    from axes.utils import reset

    username = username.strip()
    if not username:
        raise AccountError("Give the username to unlock.")
    if not (actor is not None and actor.is_superuser):
        from accounts.access import centers_for

        ours = User.objects.filter(username=username, memberships__center__in=centers_for(actor, Role.ADMIN))
        if not ours.exists():
            raise AccountError(f"No user of your centers is called {username!r}.")
    removed = reset(username=username)
    LockoutRelease.objects.create(username=username, released_at=timezone.now(), released_by=actor)
    audit(
        action="user.unlock",
        actor=actor,
        object_type="auth.user",
        object_id=username,
        detail={"username": username, "records_removed": removed},
    )
    return removed
