"""The charge domain: charge sets, their lines, transitions and engine derivations (issue 4 item 2).

A `ChargeSet` holds the charges of one encounter group (the main group has `group_key=""`; each
separate-encounter label its own). A `Derivation` records every engine run with its exact input
and output. While a set is draft or ready and uncorrected, the newest current derivation becomes
its lines; otherwise it waits on the set as `proposed_derivation` for the coder.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from charges.workflow import Status


class LineKind(models.TextChoices):
    ADMINISTRATION = "administration", "Administration"
    DRUG = "drug", "Drug"
    EM = "em", "E/M"
    OTHER = "other", "Other"


class LineOrigin(models.TextChoices):
    ENGINE = "engine", "Engine"
    CODER = "coder", "Coder"


class TransactionType(models.TextChoices):
    CHARGE = "charge", "Charge"
    CREDIT = "credit", "Credit"


class DerivationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    DISCARDED = "discarded", "Discarded (documentation changed)"


class Derivation(models.Model):
    encounter = models.ForeignKey("charges.Encounter", on_delete=models.CASCADE, related_name="derivations")
    status = models.CharField(max_length=10, choices=DerivationStatus.choices, default=DerivationStatus.PENDING)
    engine_version = models.CharField(max_length=20, blank=True)
    codebook_version = models.CharField("Codebook snapshot", max_length=40, blank=True)
    input = models.JSONField(default=dict, blank=True)
    output = models.JSONField(default=dict, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    errors = models.JSONField(default=list, blank=True)
    documentation_version = models.PositiveIntegerField()
    task_id = models.CharField(max_length=64, blank=True)
    failure = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["encounter", "-documentation_version"])]

    def __str__(self) -> str:
        return f"Derivation {self.pk} of encounter {self.encounter_id} v{self.documentation_version} ({self.status})"

    def lines_for_group(self, group_key: str) -> list[dict]:
        """The output lines belonging to one encounter group (see `charges.services.derivations`)."""
        from charges.services.derivations import group_of_line

        groups = self.input.get("_groups", {}) if isinstance(self.input, dict) else {}
        lines = (self.output or {}).get("lines", [])
        return [line for line in lines if group_of_line(line, groups) == group_key]


class ChargeSet(models.Model):
    encounter = models.ForeignKey("charges.Encounter", on_delete=models.PROTECT, related_name="charge_sets")
    group_key = models.CharField(max_length=40, blank=True, help_text="'' = the main group; else the return label")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    version = models.PositiveIntegerField(default=1)
    corrected = models.BooleanField(default=False, help_text="A coder corrected the lines")
    derivation = models.ForeignKey(Derivation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    proposed_derivation = models.ForeignKey(
        Derivation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["encounter_id", "group_key"]
        constraints = [
            models.UniqueConstraint(fields=["encounter", "group_key"], name="chargeset_one_per_group"),
            models.CheckConstraint(condition=Q(version__gte=1), name="chargeset_version_positive"),
        ]
        indexes = [models.Index(fields=["status"])]

    def __str__(self) -> str:
        label = f" ({self.group_key})" if self.group_key else ""
        return f"Charge set {self.pk}{label}: {self.get_status_display()}"


class ChargeLine(models.Model):
    charge_set = models.ForeignKey(ChargeSet, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveIntegerField(default=0)
    code = models.CharField(max_length=10)
    units = models.PositiveIntegerField()
    modifiers = models.JSONField(default=list, blank=True)
    service_date = models.DateField()
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    revenue_code = models.CharField(max_length=4, blank=True)
    ndc = models.CharField(max_length=20, blank=True)
    kind = models.CharField(max_length=20, choices=LineKind.choices)
    explanation = models.TextField(blank=True)
    administrations = models.ManyToManyField("charges.Administration", blank=True, related_name="charge_lines")
    derivation = models.ForeignKey(Derivation, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # for coder review (issue 5)
    origin = models.CharField(max_length=10, choices=LineOrigin.choices, default=LineOrigin.ENGINE)
    replaces = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    transaction_type = models.CharField(max_length=10, choices=TransactionType.choices, default=TransactionType.CHARGE)
    correction_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    history = HistoricalRecords(m2m_fields=[])

    class Meta:
        ordering = ["charge_set_id", "position", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(units__gte=1), name="chargeline_units_at_least_one"),
        ]

    def __str__(self) -> str:
        mods = "-".join(self.modifiers or [])
        return f"{self.code}{'-' + mods if mods else ''} x{self.units}"


class ChargeSetTransition(models.Model):
    charge_set = models.ForeignKey(ChargeSet, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=10, choices=Status.choices)
    to_status = models.CharField(max_length=10, choices=Status.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    source = models.CharField(max_length=10, default="user")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status} -> {self.to_status}"
