"""The exported-line guard (security.md INT-01): a charge line in an export batch is immutable.

Saving or deleting such a line through the ORM raises `LineImmutable`; corrections after export
go through `review.services.line_correct`, which credits the old line and adds a new charge.
"""

from __future__ import annotations

from django.db.models.signals import pre_delete, pre_save
from django.dispatch import receiver

from charges.models import ChargeLine
from review.errors import LineImmutable


def line_is_exported(line_id: int | None) -> bool:
    if line_id is None:
        return False
    from review.models import ExportBatchItem

    return ExportBatchItem.objects.filter(charge_line_id=line_id).exists()


@receiver(pre_save, sender=ChargeLine, dispatch_uid="review_exported_line_save_guard")
def refuse_saving_exported_line(sender, instance: ChargeLine, raw: bool = False, **kwargs) -> None:
    if raw or instance._state.adding:
        return
    if line_is_exported(instance.pk):
        raise LineImmutable("This line has been exported: it can only be credited and rebilled, never edited.")


@receiver(pre_delete, sender=ChargeLine, dispatch_uid="review_exported_line_delete_guard")
def refuse_deleting_exported_line(sender, instance: ChargeLine, **kwargs) -> None:
    if line_is_exported(instance.pk):
        raise LineImmutable("This line has been exported: it cannot be deleted.")
