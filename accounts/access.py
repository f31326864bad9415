"""Who may see what: the ONE place that declares it (security.md SEC-01..03).

Every view is declared here, either `public` (login, health checks) or `role_required(...)`. The
URL-walk test (tests/platform/test_url_walk.py) fails on any non-admin view without a declaration.

Object scoping: a view fetches objects through `scoped(...)`, so an object of a center where the
user holds none of the roles is a 404, never a 403 (no existence leak).

    @role_required(Role.NURSE)
    def encounter_detail(request, pk):
        encounter = get_object_or_404(scoped(Encounter.objects.all(), request.user, Role.NURSE), pk=pk)

Class-based views: `method_decorator(role_required(Role.CODER), name="dispatch")`.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from datetime import timedelta
from typing import NamedTuple

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Center, Membership
from accounts.roles import Role

#: `view.access_roles` value of a public view.
PUBLIC = "public"
#: `view.access_roles` value of a view for any signed-in user, whatever their roles (second-factor pages).
SIGNED_IN = "signed_in"

#: How long a sign-in or a password re-entry counts as "recent" for `reauth_required`.
REAUTH_MAX_AGE = timedelta(minutes=5)
REAUTH_SESSION_KEY = "_reauthenticated_at"

_ALL_ROLES = tuple(Role.values)


def _normalize(roles: Iterable[str]) -> tuple[str, ...]:
    values = tuple(str(role) for role in roles) or _ALL_ROLES
    unknown = sorted(set(values) - set(_ALL_ROLES))
    if unknown:
        raise ValueError(f"unknown role(s) {unknown}; roles are {list(_ALL_ROLES)}")
    return values


def _active_memberships(user) -> QuerySet[Membership]:
    return Membership.objects.filter(user=user, user__is_active=True, center__is_active=True)


def centers_for(user, *roles: str) -> QuerySet[Center]:
    """Active centers where the (active) user holds one of `roles` (any role if none given)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Center.objects.none()
    memberships = _active_memberships(user).filter(role__in=_normalize(roles))
    return Center.objects.filter(pk__in=memberships.values("center_id"), is_active=True)


def has_role(user, center, *roles: str) -> bool:
    """True when the user holds one of `roles` (any role if none given) at `center` (object or id)."""
    if user is None or not user.is_authenticated or not user.is_active or center is None:
        return False
    center_id = getattr(center, "pk", center)
    return _active_memberships(user).filter(center_id=center_id, role__in=_normalize(roles)).exists()


class _RequestAccess(NamedTuple):
    """The signed-in user's memberships as read once at the start of the current request."""

    user_pk: int
    roles: frozenset[str]  # every role held at an active center
    centers: tuple[Center, ...]  # the active centers where a known role is held, by name then pk
    center_roles: frozenset[tuple[int, str]]  # (center id, role) of every such membership


_request_access: ContextVar[_RequestAccess | None] = ContextVar("request_access", default=None)


def _memo(user) -> _RequestAccess | None:
    memo = _request_access.get()
    return memo if memo is not None and memo.user_pk == user.pk else None


@contextlib.contextmanager
def request_access(user) -> Iterator[list[Center]]:
    """Reads the user's memberships once for a whole request (one query) and yields the active centers
    where the user holds a role (by name, then pk: what `centers_for(user)` gives).

    Until the block ends, `user_roles(user)`, the `role_required` check and `scoped(...)` answer from that
    read instead of a query (or subquery) each: the second-factor check, the role check, the object scoping
    and the navigation bar all ask. A change of the user's own memberships made during the request shows
    from the next request on (the request was let in against the memberships as they were at its start).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        yield []
        return
    roles: set[str] = set()
    centers: dict[int, Center] = {}
    pairs: set[tuple[int, str]] = set()
    for membership in _active_memberships(user).select_related("center").order_by("center__name", "center__pk", "pk"):
        roles.add(membership.role)
        if membership.role in _ALL_ROLES:
            centers.setdefault(membership.center_id, membership.center)
            pairs.add((membership.center_id, membership.role))
    ordered = tuple(centers.values())
    token = _request_access.set(_RequestAccess(user.pk, frozenset(roles), ordered, frozenset(pairs)))
    try:
        yield list(ordered)
    finally:
        _request_access.reset(token)


def user_roles(user) -> set[str]:
    """Every role the user holds at any active center."""
    if user is None or not user.is_authenticated or not user.is_active:
        return set()
    memo = _memo(user)
    if memo is not None:
        return set(memo.roles)
    return set(_active_memberships(user).values_list("role", flat=True))


def _holds_any(user, roles: tuple[str, ...]) -> bool:
    """True when the (active) user holds one of `roles` at an active center."""
    memo = _memo(user)
    if memo is not None:
        return not memo.roles.isdisjoint(roles)
    return _active_memberships(user).filter(role__in=roles).exists()


def scoped(queryset: QuerySet, user, *roles: str, center_field: str = "center") -> QuerySet:
    """`queryset` limited to objects of the centers where the user holds one of `roles`."""
    memo = _memo(user) if user is not None and user.is_authenticated and user.is_active else None
    if memo is not None:  # the centers read at the start of this request (`request_access`): no subquery
        wanted = _normalize(roles)
        ids = sorted({center_id for center_id, role in memo.center_roles if role in wanted})
        return queryset.filter(**{f"{center_field}__in": ids})
    return queryset.filter(**{f"{center_field}__in": centers_for(user, *roles)})


def role_required(*roles: str) -> Callable:
    """View decorator: sign-in required, then one of `roles` at any of the user's centers, else 403.

    With no roles, any role at any center will do. The declaration is kept on the view as
    `view.access_roles` (a tuple of role values) for the URL-walk and matrix tests.
    """
    allowed = _normalize(roles)

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not _holds_any(user, allowed):
                _record_denial(request, allowed)
                raise PermissionDenied("Your role does not give access to this page.")
            return view(request, *args, **kwargs)

        wrapper.access_roles = allowed
        return wrapper

    return decorator


def public(view: Callable) -> Callable:
    """Declares a view open without sign-in (health checks, login)."""
    view.access_roles = PUBLIC
    return view


def signed_in(view: Callable) -> Callable:
    """Declares a view open to any signed-in user, whatever their roles (e.g. the second-factor pages)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapper.access_roles = SIGNED_IN
    return wrapper


def recently_authenticated(request) -> bool:
    """True when the user signed in or re-entered the password within REAUTH_MAX_AGE."""
    from infusioncenter.middleware import SESSION_STARTED_KEY

    now = timezone.now().timestamp()
    times = [request.session.get(SESSION_STARTED_KEY) or 0, request.session.get(REAUTH_SESSION_KEY) or 0]
    return now - max(float(t) for t in times) <= REAUTH_MAX_AGE.total_seconds()


def reauth_required(view: Callable) -> Callable:
    """Asks for the password again before a sensitive action (close day, re-send, role changes; SEC-10).

    Put it under `role_required`. Without a sign-in or password re-entry in the last REAUTH_MAX_AGE the user
    is sent to the re-authentication page; a POST is kept (accounts.refill) so the form comes back filled in,
    and the user returns to the page the action was posted from.
    """

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if recently_authenticated(request):
            return view(request, *args, **kwargs)
        from urllib.parse import urlsplit

        from django.shortcuts import redirect
        from django.urls import reverse
        from django.utils.http import url_has_allowed_host_and_scheme, urlencode

        from accounts import refill

        back = request.get_full_path()
        if request.method != "GET":
            referer = request.headers.get("Referer", "")
            ok = url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure())
            back = urlsplit(referer).path if referer and ok else request.path
            refill.store(request, refill.capture(request, request.user.pk, back))
        return redirect(f"{reverse('accounts:reauth')}?{urlencode({'next': back})}")

    return wrapper


def declared_access(view: Callable) -> tuple[str, ...] | str | None:
    """The access declaration of a resolved view callable (function or class-based), or None."""
    for candidate in (view, getattr(view, "view_class", None), getattr(view, "__wrapped__", None)):
        if candidate is None:
            continue
        roles = getattr(candidate, "access_roles", None)
        if roles is not None:
            return roles
        dispatch = getattr(candidate, "dispatch", None)
        if dispatch is not None and getattr(dispatch, "access_roles", None) is not None:
            return dispatch.access_roles
    return None


def _record_denial(request, roles: tuple[str, ...]) -> None:
    """Audits a refused access (issue 7); durable, so it survives whatever the request does next."""
    from accounts.services import audit

    audit(
        durable=True,
        action="access.denied",
        actor=request.user,
        outcome="denied",
        detail={"path": request.path[:500], "required_roles": list(roles)},
    )
