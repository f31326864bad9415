"""Celery tasks of the charges app: ids only in messages (LOG-01); each one calls one service."""

from __future__ import annotations

import logging

from celery import shared_task

logger = logging.getLogger(__name__)


@shared_task(bind=True, name="charges.derive_encounter", ignore_result=True)
def derive_encounter_task(self, encounter_id: int) -> None:
    """Runs the charge engine for one encounter (queued on commit by `derivation_request`).

    A failure is logged with ids and the error class only (an exception's text may quote patient
    data), then re-raised so Celery records it and the preview shows "failed, retry".
    """
    from charges.services.derivations import derivation_run

    task_id = str(self.request.id or "")
    try:
        derivation_run(encounter_id=int(encounter_id), task_id=task_id)
    except Exception as error:
        logger.error(
            "charge derivation failed",
            extra={"encounter_id": int(encounter_id), "task_id": task_id, "error_class": type(error).__name__},
        )
        raise
