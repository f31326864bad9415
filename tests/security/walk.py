"""The security walk: every endpoint of tests/urlwalk.py, filled with real objects of a world and
opened by every role that may open it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from accounts.access import SIGNED_IN
from tests.security.formparse import Form, InlineCode, read_page
from tests.security.world import World, object_urls
from tests.urlwalk import Endpoint, endpoints

ROLE_ORDER = ("nurse", "coder", "manager", "admin")


def protected_endpoints() -> list[Endpoint]:
    return [e for e in endpoints() if not e.is_public]


def allowed_roles(endpoint: Endpoint) -> tuple[str, ...]:
    if endpoint.access == SIGNED_IN:
        return ROLE_ORDER
    if isinstance(endpoint.access, tuple):
        return tuple(str(r) for r in endpoint.access) or ROLE_ORDER
    return ()


def concrete_urls(endpoint: Endpoint, world: World) -> list[str]:
    return object_urls(endpoint.route, world) or ["/" + endpoint.route]


@dataclass
class Page:
    url: str
    role: str
    endpoint: Endpoint
    status: int
    content_type: str
    headers: dict[str, str]
    body: str
    forms: list[Form] = field(default_factory=list)
    inline: list[InlineCode] = field(default_factory=list)

    @property
    def is_html(self) -> bool:
        return self.content_type.startswith("text/html")


def walk_pages(world: World, client_for, *, roles: tuple[str, ...] | None = None) -> list[Page]:
    """GET every endpoint (with this world's objects) as each allowed owner role; HTML bodies are parsed."""
    pages = []
    clients: dict[str, Any] = {}
    for endpoint in protected_endpoints():
        for role in allowed_roles(endpoint):
            if roles is not None and role not in roles:
                continue
            client = clients.get(role) or clients.setdefault(role, client_for(world.users[role]))
            for url in concrete_urls(endpoint, world):
                response = client.get(url)
                content_type = response.get("Content-Type", "")
                raw = b"".join(response.streaming_content) if response.streaming else response.content
                body = raw.decode("utf-8", "replace") if content_type.startswith("text/") else ""
                page = Page(
                    url=url,
                    role=role,
                    endpoint=endpoint,
                    status=response.status_code,
                    content_type=content_type,
                    headers={k: v for k, v in response.items()},
                    body=body,
                )
                if page.status == 200 and page.is_html:
                    page.forms, page.inline = read_page(body, url)
                pages.append(page)
    return pages
