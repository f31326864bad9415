"""Centers and memberships (docs/contracts.md §4)."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from accounts.roles import Role


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. America/New_York)") from None


def default_time_zone() -> str:
    return settings.TIME_ZONE


class Setting(models.TextChoices):
    FACILITY = "facility", "Facility (hospital outpatient)"
    PROFESSIONAL = "professional", "Professional (physician office)"


class BillingEntity(models.TextChoices):
    HOSPITAL = "hospital", "Hospital"
    COVERED_ENTITY = "covered_entity", "340B covered entity"
    PRACTICE = "practice", "Practice"


class DepartmentStatus(models.TextChoices):
    ON_CAMPUS = "on_campus", "On campus"
    OFF_CAMPUS_EXCEPTED = "off_campus_excepted", "Off campus, excepted (PO)"
    OFF_CAMPUS_NON_EXCEPTED = "off_campus_non_excepted", "Off campus, non-excepted (PN)"
    EMERGENCY = "emergency", "Emergency department"


class DateFormat(models.TextChoices):
    """How a center's pages show dates (files are always ISO 8601). Values are Django date formats."""

    US = "m/d/Y", "MM/DD/YYYY (03/04/2025)"
    ISO = "Y-m-d", "YYYY-MM-DD (2025-03-04)"
    DAY_FIRST = "d/m/Y", "DD/MM/YYYY (04/03/2025)"
    DOTTED = "d.m.Y", "DD.MM.YYYY (04.03.2025)"


class Center(models.Model):
    """An infusion center: one hospital outpatient department or one practice."""

    # the choices an encounter copies from its center (charges.models uses the same classes)
    Setting = Setting
    BillingEntity = BillingEntity
    DepartmentStatus = DepartmentStatus

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default=default_time_zone, validators=[validate_time_zone])
    setting = models.CharField(max_length=20, choices=Setting.choices)
    default_payer = models.CharField(max_length=40, default="medicare", help_text="Payer key of the codebook")
    place_of_service = models.CharField(max_length=2, help_text="Two-digit CMS place-of-service code")
    billing_entity = models.CharField(max_length=20, choices=BillingEntity.choices)
    department_status = models.CharField(
        max_length=30,
        choices=DepartmentStatus.choices,
        blank=True,
        help_text="Hospital departments only; empty for a practice",
    )
    date_format = models.CharField(
        max_length=10,
        choices=DateFormat.choices,
        default=DateFormat.US,
        help_text="How dates show on this center's pages; exported files always use ISO 8601",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(setting__in=["facility", "professional"]), name="center_setting_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(billing_entity__in=["hospital", "covered_entity", "practice"]),
                name="center_billing_entity_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role at one center. A user may hold several roles at several centers."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="memberships")
    center = models.ForeignKey(Center, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["center__name", "role"]
        constraints = [
            models.UniqueConstraint(fields=["user", "center", "role"], name="membership_unique_user_center_role"),
            models.CheckConstraint(
                condition=models.Q(role__in=["nurse", "coder", "manager", "admin"]), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.get_role_display()} · {self.center}"


class LockoutRelease(models.Model):
    """An admin released a username from sign-in lockout; failures before this time no longer count."""

    username = models.CharField(max_length=255, db_index=True)
    released_at = models.DateTimeField()
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")

    class Meta:
        ordering = ["-released_at"]

    def __str__(self) -> str:
        return f"{self.username} released at {self.released_at:%Y-%m-%d %H:%M}"
