"""Root URLs. App URL modules are included when they exist, so apps can land independently."""

from __future__ import annotations

import importlib.util

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from infusioncenter import views


def optional_include(prefix: str, module: str) -> list:
    """`path(prefix, include(module))` if the module exists, else nothing."""
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    return [path(prefix, include(module))] if found else []


admin.site.site_header = "Infusion charges administration"
admin.site.site_title = "Infusion charges"

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("accounts/", include("accounts.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
    *optional_include("audit/", "audit.urls"),
    *optional_include("codebook/", "codebook.urls"),
    *optional_include("review/", "review.urls"),
    *optional_include("reports/", "reports.urls"),
    *optional_include("", "charges.urls"),  # its own paths start with charting/
    path("", views.home, name="home"),
]

handler400 = "infusioncenter.views.bad_request"
handler403 = "infusioncenter.views.permission_denied"
handler404 = "infusioncenter.views.page_not_found"
handler500 = "infusioncenter.views.server_error"
