"""WSGI entry point (gunicorn infusioncenter.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")

application = get_wsgi_application()
