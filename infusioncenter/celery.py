"""The Celery application. Without REDIS_URL tasks run eagerly in the web process."""

from __future__ import annotations

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infusioncenter.settings")

app = Celery("infusioncenter")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(["infusioncenter"])


# Per running task: what to restore afterwards. An eager task runs inside a web request, whose request id
# and audit context must come back intact when the task ends.
_task_restore: dict[str, tuple] = {}


@signals.task_prerun.connect(dispatch_uid="infusioncenter.bind_task_context")
def _bind_task_context(task_id=None, task=None, **kwargs):
    """Audit rows and log lines written by a task carry its task id."""
    from infusioncenter.logging import set_request_id

    log_token = set_request_id(f"task-{task_id}")
    binding = None
    try:
        from audit import context
    except ImportError:
        context = None
    if context is not None:
        binding = context.bind(task_id=task_id or "")
    _task_restore[task_id] = (log_token, binding)


@signals.task_postrun.connect(dispatch_uid="infusioncenter.clear_task_context")
def _clear_task_context(task_id=None, task=None, **kwargs):
    from infusioncenter.logging import reset_request_id

    log_token, binding = _task_restore.pop(task_id, (None, None))
    if binding is not None:
        binding.reset()
    if log_token is not None:
        reset_request_id(log_token)
