"""Template context shared by the base layout."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict:
    from infusioncenter.navigation import links_for

    user = getattr(request, "user", None)
    center = getattr(request, "center", None)
    date_format = center.date_format if center is not None else "SHORT_DATE_FORMAT"
    return {
        "nav_links": links_for(user) if user is not None and user.is_authenticated else [],
        "site_name": "Infusion charges",
        "current_center": center,
        # the current center's date format for pages: {{ day|date:center_date_format }}
        "center_date_format": date_format,
        "center_datetime_format": f"{date_format} H:i" if center is not None else "SHORT_DATETIME_FORMAT",
        "user_centers": getattr(request, "user_centers", []),
        "request_id": getattr(request, "request_id", ""),
        "form_refill": getattr(request, "form_refill", None),
        "debug_banner": settings.DEBUG,
        "admin_url": "/" + settings.ADMIN_URL,
    }
