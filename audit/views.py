"""The read-only audit viewer (admin role): filters, 50 rows a page; opening it is itself audited."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.access import role_required
from accounts.roles import Role
from audit import selectors
from audit.forms import AuditFilterForm
from audit.services import audit_viewer_opened

PAGE_SIZE = 50


@role_required(Role.ADMIN)
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        events = selectors.audit_events().none()
        filters: dict[str, str] = {}
    else:
        cleaned = form.cleaned_data if form.is_bound else {}
        filters = selectors.filters_summary(cleaned)
        events = selectors.audit_events(**{key: value for key, value in cleaned.items() if value})
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    audit_viewer_opened(actor=request.user, filters=filters, page=page.number, results=len(page.object_list))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/event_list.html",
        {"form": form, "page": page, "query": query.urlencode(), "actions": selectors.known_actions()},
    )
