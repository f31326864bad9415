"""Authentication backend: django-axes throttling for every sign-in that comes with a request."""

from axes.backends import AxesStandaloneBackend


class ThrottledBackend(AxesStandaloneBackend):
    """Axes' lockout check, skipped when `authenticate()` is called without a request.

    Sign-in over HTTP always has a request (the login view passes it). Calls without one come from
    code (management commands, the test client's `login()`), which has no client address to throttle.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
