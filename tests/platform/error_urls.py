"""A URL configuration for the error-page tests: the project's URLs plus one view that fails."""

from django.urls import path

from accounts.access import public
from infusioncenter.urls import urlpatterns as project_urlpatterns


@public
def explode(request):
    raise RuntimeError("secret detail: MRN 12345678 Jane Doe")


urlpatterns = [path("explode/", explode), *project_urlpatterns]

handler500 = "infusioncenter.views.server_error"
handler404 = "infusioncenter.views.page_not_found"
handler403 = "infusioncenter.views.permission_denied"
