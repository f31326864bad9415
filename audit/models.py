"""The audit trail: one append-only, hash-chained row per event (security.md AUD-01..03).

Rows are written only by `audit.services` (the chain needs the lock taken there), never edited:
database triggers refuse UPDATE and DELETE (migration 0002) except under the maintenance flag that
only the test flush and the retention purge set. See docs/adr/0002-audit-hash-chain.md.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

#: `prev_hash` of the first row ever written.
GENESIS_HASH = "0" * 64


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILURE = "failure", "Failure"


class AuditEvent(models.Model):
    # who
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="audit_events",
        help_text="The signed-in user; empty for the system (tasks, commands) and failed sign-ins.",
    )
    username = models.CharField(max_length=150, blank=True, help_text="The username at the time of the event.")
    # when (UTC)
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    # what
    action = models.CharField(max_length=100, db_index=True, help_text="Dotted name, e.g. encounter.create")
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_ref = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Opaque patient reference; never a name or MRN."
    )
    center_id = models.IntegerField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.SUCCESS)
    detail = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder, help_text="No patient data.")
    # where from
    client_address = models.CharField(max_length=64, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    # the chain
    sequence = models.BigIntegerField(unique=True, editable=False)
    prev_hash = models.CharField(max_length=64, unique=True, editable=False)
    hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-sequence"]
        verbose_name = "audit event"
        indexes = [
            models.Index(fields=["user", "timestamp"], name="audit_user_time_idx"),
            models.Index(fields=["patient_ref", "timestamp"], name="audit_patient_time_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(sequence__gte=1), name="audit_sequence_positive"),
            models.CheckConstraint(
                condition=models.Q(outcome__in=["success", "denied", "failure"]), name="audit_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.outcome}"

    @property
    def detail_text(self) -> str:
        """`detail` as compact JSON with sorted keys (for display)."""
        return json.dumps(self.detail, sort_keys=True, separators=(", ", ": "), cls=DjangoJSONEncoder)
