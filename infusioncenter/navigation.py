"""Where each role goes: the start page and the navbar show these links (those that exist)."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from accounts.access import user_roles
from accounts.roles import Role

#: Links per role: (URL name, label). Names that do not resolve (an app not installed) are skipped.
ROLE_LINKS: dict[str, list[tuple[str, str]]] = {
    Role.NURSE: [("charges:board", "Today's board"), ("review:nurse_queries", "Questions from coders")],
    Role.CODER: [("review:queue", "Review queue"), ("review:patient_search", "Find a patient")],
    Role.MANAGER: [("reports:dashboard", "Reports and exports"), ("reports:batches", "Batches")],
    Role.ADMIN: [
        ("admin:index", "Codebook (admin)"),
        ("accounts:access_review", "Access review"),
        ("audit:events", "Audit trail"),
    ],
}


def links_for(user) -> list[tuple[str, str]]:
    """(url, label) for every role the user holds, in role order, without duplicates."""
    roles = user_roles(user)
    links: list[tuple[str, str]] = []
    for role in Role.values:
        if role not in roles:
            continue
        for name, label in ROLE_LINKS.get(role, []):
            try:
                url = reverse(name)
            except NoReverseMatch:
                continue
            if (url, label) not in links:
                links.append((url, label))
    return links
