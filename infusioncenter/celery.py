"""The Celery application. Without REDIS_URL tasks run eagerly in the web process."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")

app = Celery("infusioncenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["infusioncenter"])
