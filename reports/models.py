"""Records of the day close: who closed which day, which files were written with which checksum,
and every re-send with its reason (issue 6 item 2, REL-04).

The batch itself (`review.ExportBatch`, numbered per center) belongs to coder review; these rows
prove what left the building and when.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class CloseSource(models.TextChoices):
    MANUAL = "manual", "Close day button"
    SCHEDULE = "schedule", "Nightly close"


class CloseOutcome(models.TextChoices):
    EXPORTED = "exported", "Exported a batch"
    NOTHING_NEW = "nothing_new", "Nothing new to export"
    FAILED = "failed", "Failed"


class FileKind(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "Excel (XLSX)"
    HL7 = "hl7", "HL7 v2.5 DFT^P03"


class DayClose(models.Model):
    """One attempt to close a day at a center (button or nightly task), whatever its outcome."""

    center = models.ForeignKey("accounts.Center", on_delete=models.PROTECT, related_name="day_closes")
    service_date = models.DateField("Closed day")
    batch = models.ForeignKey(
        "review.ExportBatch", null=True, blank=True, on_delete=models.PROTECT, related_name="day_closes"
    )
    outcome = models.CharField(max_length=12, choices=CloseOutcome.choices)
    source = models.CharField(max_length=10, choices=CloseSource.choices, default=CloseSource.MANUAL)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(auto_now_add=True)
    lines = models.PositiveIntegerField(default=0)
    #: for a failure: the exception class and the task id, never patient data
    error = models.CharField(max_length=200, blank=True)
    task_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-closed_at", "-pk"]
        indexes = [models.Index(fields=["center", "service_date"]), models.Index(fields=["outcome", "closed_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(outcome="exported", batch__isnull=False) | ~Q(outcome="exported"),
                name="dayclose_exported_has_batch",
            ),
        ]

    def __str__(self) -> str:
        return f"Close of {self.service_date} at center {self.center_id}: {self.outcome}"


class BatchFile(models.Model):
    """One file written for an export batch, with its SHA-256 checksum."""

    batch = models.ForeignKey("review.ExportBatch", on_delete=models.PROTECT, related_name="files")
    day_close = models.ForeignKey(DayClose, null=True, blank=True, on_delete=models.PROTECT, related_name="files")
    kind = models.CharField(max_length=4, choices=FileKind.choices)
    #: relative to settings.REPORTS_FILES_DIR
    path = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch_id", "kind"]
        constraints = [models.UniqueConstraint(fields=["batch", "kind"], name="batchfile_one_per_kind")]

    def __str__(self) -> str:
        return f"{self.kind} of batch {self.batch_id}"


class ReSend(models.Model):
    """An explicit, re-authenticated re-send of a batch that was already exported (REL-04)."""

    batch = models.ForeignKey("review.ExportBatch", on_delete=models.PROTECT, related_name="resends")
    reason = models.TextField()
    sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sent_at = models.DateTimeField(auto_now_add=True)
    #: True when every stored file still matched its recorded checksum
    checksums_ok = models.BooleanField(default=True)
    #: the HL7 outbox file written (empty when no outbox is configured)
    outbox_path = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-sent_at", "-pk"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="resend_reason_required")]

    def __str__(self) -> str:
        return f"Re-send of batch {self.batch_id}"
