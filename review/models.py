"""Models of coder review (issue 5): documentation queries, line corrections, export batches.

- `DocumentationQuery` (+ `QueryAnswer`): "Query nurse"; the set stays on hold until it is closed.
- `LineCorrection`: every coder change to the lines, with its reason and the engine's line kept
  beside the coder's (JSON snapshots of the line before and after).
- `ExportBatch` (+ `ExportBatchItem`): numbered per center, immutable once created; one item per
  exported line, and a line is exported at most once (unique). A line in a batch is immutable
  (`review.signals` refuses to save or delete it).
- `PatientRef`: the opaque patient id used in queue URLs (never a name or MRN in a URL).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords


class QueryStatus(models.TextChoices):
    OPEN = "open", "Open"
    ANSWERED = "answered", "Answered"
    CLOSED = "closed", "Closed"


#: statuses of a query that still holds its set
OPEN_QUERY_STATUSES = (QueryStatus.OPEN, QueryStatus.ANSWERED)


class DocumentationQuery(models.Model):
    charge_set = models.ForeignKey("charges.ChargeSet", on_delete=models.PROTECT, related_name="queries")
    encounter = models.ForeignKey("charges.Encounter", on_delete=models.PROTECT, related_name="queries")
    administration = models.ForeignKey(
        "charges.Administration", null=True, blank=True, on_delete=models.SET_NULL, related_name="queries"
    )
    question = models.TextField()
    status = models.CharField(max_length=10, choices=QueryStatus.choices, default=QueryStatus.OPEN)
    asked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    asked_at = models.DateTimeField(auto_now_add=True)
    addressed_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_note = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["asked_at", "pk"]
        verbose_name_plural = "documentation queries"
        indexes = [models.Index(fields=["charge_set", "status"]), models.Index(fields=["addressed_to", "status"])]
        constraints = [
            models.CheckConstraint(condition=~Q(question=""), name="query_question_not_empty"),
            models.CheckConstraint(
                condition=Q(status="closed", closed_at__isnull=False) | ~Q(status="closed"),
                name="query_closed_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"Query {self.pk} on charge set {self.charge_set_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_QUERY_STATUSES


class QueryAnswer(models.Model):
    query = models.ForeignKey(DocumentationQuery, on_delete=models.PROTECT, related_name="answers")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(text=""), name="query_answer_not_empty")]

    def __str__(self) -> str:
        return f"Answer {self.pk} to query {self.query_id}"


class CorrectionAction(models.TextChoices):
    CORRECT = "correct", "Line corrected"
    ADD = "add", "Line added"
    REMOVE = "remove", "Line removed"
    ACCEPT = "accept", "New lines accepted"


class LineCorrection(models.Model):
    """One coder change. `before`/`after` are line snapshots (lists for an accepted proposal)."""

    charge_set = models.ForeignKey("charges.ChargeSet", on_delete=models.PROTECT, related_name="corrections")
    action = models.CharField(max_length=10, choices=CorrectionAction.choices)
    #: the coder's line (the edited or added line, or the new charge after export); null once removed
    line = models.ForeignKey(
        "charges.ChargeLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="corrections"
    )
    #: after export: the credit line for the old one
    credit_line = models.ForeignKey(
        "charges.ChargeLine", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    before = models.JSONField(null=True, blank=True, help_text="The line as it was (the engine's line, kept)")
    after = models.JSONField(null=True, blank=True, help_text="The line as the coder left it")
    reason = models.TextField()
    after_export = models.BooleanField(default=False)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]
        constraints = [models.CheckConstraint(condition=~Q(reason=""), name="correction_reason_not_empty")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on charge set {self.charge_set_id}"


class ImmutableError(Exception):
    """An export batch (or item) cannot be changed or deleted once created."""


class ExportBatch(models.Model):
    center = models.ForeignKey("accounts.Center", on_delete=models.PROTECT, related_name="export_batches")
    number = models.PositiveIntegerField(help_text="Numbered per center, from 1")
    closes_date = models.DateField(help_text="The day closed: sets of encounters up to this date")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    set_count = models.PositiveIntegerField(default=0)
    line_count = models.PositiveIntegerField(default=0)
    charge_total = models.DecimalField(max_digits=16, decimal_places=2, default=0)
    credit_total = models.DecimalField(max_digits=16, decimal_places=2, default=0)

    class Meta:
        ordering = ["center_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["center", "number"], name="exportbatch_number_per_center"),
            models.CheckConstraint(condition=Q(number__gte=1), name="exportbatch_number_positive"),
        ]

    def __str__(self) -> str:
        return f"Batch {self.number} of center {self.center_id} ({self.closes_date})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableError("An export batch cannot be changed once created.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("An export batch cannot be deleted.")

    @property
    def net_total(self):
        return self.charge_total - self.credit_total


class ExportBatchItem(models.Model):
    batch = models.ForeignKey(ExportBatch, on_delete=models.PROTECT, related_name="items")
    charge_line = models.OneToOneField("charges.ChargeLine", on_delete=models.PROTECT, related_name="export_item")
    charge_set = models.ForeignKey("charges.ChargeSet", on_delete=models.PROTECT, related_name="export_items")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["batch_id", "position", "pk"]

    def __str__(self) -> str:
        return f"Line {self.charge_line_id} in batch {self.batch_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise ImmutableError("An export batch item cannot be changed once created.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("An export batch item cannot be deleted.")


class PatientRef(models.Model):
    """An opaque, random patient id per (center, MRN), made by the type-ahead for queue URLs."""

    token = models.CharField(max_length=32, unique=True)
    center = models.ForeignKey("accounts.Center", on_delete=models.CASCADE, related_name="+")
    patient_mrn = models.CharField(max_length=40)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["center", "patient_mrn"], name="patientref_one_per_patient")]

    def __str__(self) -> str:
        return f"Patient ref {self.token}"
