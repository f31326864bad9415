"""The Django project: settings, URLs, Celery app, middleware and operations views."""

from infusioncenter.celery import app as celery_app

__all__ = ("celery_app",)
