"""The Celery application. Without REDIS_URL tasks run eagerly in the web process."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")

app = Celery("infusioncenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["infusioncenter"])


@signals.task_prerun.connect(dispatch_uid="infusioncenter.bind_task_context")
def _bind_task_context(task_id=None, task=None, **kwargs):
    """Audit rows and log lines written by a task carry its task id."""
    from infusioncenter.logging import set_request_id

    set_request_id(f"task-{task_id}")
    try:
        from audit import context
    except ImportError:
        return
    context.bind(task_id=task_id or "")


@signals.task_postrun.connect(dispatch_uid="infusioncenter.clear_task_context")
def _clear_task_context(task_id=None, task=None, **kwargs):
    from infusioncenter.logging import set_request_id

    set_request_id("-")
    try:
        from audit import context
    except ImportError:
        return
    context.clear()
