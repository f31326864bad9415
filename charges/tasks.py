"""Celery tasks of the charges app: ids only in messages (LOG-01); each one calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(bind=True, name="charges.derive_encounter", ignore_result=True)
def derive_encounter_task(self, encounter_id: int) -> None:
    """Runs the charge engine for one encounter (queued on commit by `derivation_request`)."""
    from charges.services.derivations import derivation_run

    derivation_run(encounter_id=int(encounter_id), task_id=str(self.request.id or ""))
