"""Walks the URL configuration: every endpoint with a sample URL and its access declaration.

Used by tests/platform/test_url_walk.py (declarations, role matrix) and available to other suites
(security, CSRF) that need "every endpoint".
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

from accounts.access import declared_access

#: Sample values for path converters: ids that exist nowhere, so an allowed role gets a 404.
SAMPLE_VALUES = {
    "int": "987654",
    "str": "no-such-thing",
    "slug": "no-such-thing",
    "uuid": str(uuid.UUID(int=987654)),
    "path": "no/such/thing",
}
_CONVERTER = re.compile(r"<(?:(?P<conv>[^>:]+):)?(?P<name>[^>]+)>")


@dataclass(frozen=True)
class Endpoint:
    route: str  # the route text, e.g. "accounts/access-review/<int:user_id>/deactivate/"
    url: str  # a sample URL with made-up ids
    name: str  # "namespace:name" or ""
    view: object
    access: object  # tuple of roles, "public", or None (undeclared)

    @property
    def is_public(self) -> bool:
        return self.access == "public"


def _sample_url(route: str) -> str | None:
    if route.startswith("^") or "(?P" in route:
        return None  # a regex route: not sampled

    def repl(match: re.Match) -> str:
        return SAMPLE_VALUES.get(match.group("conv") or "str", "x")

    return "/" + _CONVERTER.sub(repl, route)


def _walk(patterns, prefix: str = "", namespace: str = ""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            full_ns = f"{namespace}:{ns}" if namespace and ns else (ns or namespace)
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), full_ns)
        elif isinstance(entry, URLPattern):
            route = prefix + str(entry.pattern)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or "")
            yield route, name, entry.callback, namespace


def endpoints(include_admin: bool = False) -> list[Endpoint]:
    """Every endpoint of the project (Django admin excluded unless asked: it has its own staff checks)."""
    result = []
    for route, name, view, namespace in _walk(get_resolver().url_patterns):
        if not include_admin and namespace.split(":")[0] == "admin":
            continue
        url = _sample_url(route)
        if url is None:
            continue
        result.append(Endpoint(route=route, url=url, name=name, view=view, access=declared_access(view)))
    return result
