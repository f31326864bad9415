"""Documentation: encounters, their administrations and pauses (issue 4 item 1).

Every input of engine-io.md can be recorded. Invariants are database constraints (stop after
start, positive dose, waste not negative, pause stop after pause start); "a pause inside its
administration" spans two tables, so the services and forms enforce it.
History of every row is kept by django-simple-history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from accounts.models import BillingEntity, DepartmentStatus, Setting


class EncounterStatus(models.TextChoices):
    OPEN = "open", "Open"
    SIGNED = "signed", "Signed (with coding)"
    VOID = "void", "Void"


class Route(models.TextChoices):
    IV_INFUSION = "iv_infusion", "IV infusion"
    IV_PUSH = "iv_push", "IV push"
    SC = "sc", "Subcutaneous injection"
    IM = "im", "Intramuscular injection"
    SC_INFUSION = "sc_infusion", "Subcutaneous infusion"
    INTRA_ARTERIAL = "intra_arterial", "Intra-arterial push"
    INTRA_ARTERIAL_INFUSION = "intra_arterial_infusion", "Intra-arterial infusion"
    INTRALESIONAL = "intralesional", "Intralesional"
    INTRATHECAL = "intrathecal", "Intrathecal"
    ORAL = "oral", "Oral"
    PUMP_PROLONGED = "pump_prolonged", "Pump, prolonged (over 8 h)"
    PUMP_REFILL = "pump_refill", "Pump refill"
    PUMP_DISCONNECT = "pump_disconnect", "Pump disconnect"
    PORT_FLUSH = "port_flush", "Port flush"
    CATHETER_CLEARANCE = "catheter_clearance", "Catheter clearance"
    ON_BODY_INJECTOR = "on_body_injector", "On-body injector"


#: routes that run over time: a stop time is expected, and missing blocks signing (REL-01)
TIMED_ROUTES = frozenset({Route.IV_INFUSION, Route.SC_INFUSION, Route.INTRA_ARTERIAL_INFUSION, Route.PUMP_PROLONGED})
#: routes allowed to last more than 24 hours
LONG_ROUTES = frozenset({Route.PUMP_PROLONGED})


class Category(models.TextChoices):
    CHEMO = "chemo", "Chemotherapy / complex biologic"
    THERAPEUTIC = "therapeutic", "Therapeutic, prophylactic, diagnostic"
    HYDRATION = "hydration", "Hydration fluid"


class Purpose(models.TextChoices):
    HYDRATION = "hydration", "Hydration (ordered)"
    KVO = "kvo", "Keep vein open"
    CARRIER = "carrier", "Carrier"
    ELECTROLYTE_REPLACEMENT = "electrolyte_replacement", "Electrolyte replacement"


class PumpType(models.TextChoices):
    PORTABLE = "portable", "Portable"
    IMPLANTED = "implanted", "Implanted"


class PumpSupplier(models.TextChoices):
    PROVIDER = "provider", "The center (provider)"
    SUPPLIER = "supplier", "DME / home infusion supplier"


class Encounter(models.Model):
    center = models.ForeignKey("accounts.Center", on_delete=models.PROTECT, related_name="encounters")
    patient_mrn = models.CharField("MRN", max_length=40)
    patient_name = models.CharField("Patient name", max_length=200)
    patient_dob = models.DateField("Date of birth", null=True, blank=True)
    visit_number = models.CharField("Visit / account number", max_length=40, blank=True)
    ordering_provider = models.CharField("Ordering provider", max_length=200, blank=True)
    ordering_npi = models.CharField("Ordering provider NPI", max_length=10, blank=True)
    service_date = models.DateField("Date of service")
    setting = models.CharField(max_length=20, choices=Setting.choices)
    payer = models.CharField(max_length=40, help_text="Payer key of the codebook")
    billing_entity = models.CharField(max_length=20, choices=BillingEntity.choices)
    department_status = models.CharField(
        max_length=30, choices=DepartmentStatus.choices, default=DepartmentStatus.ON_CAMPUS
    )
    place_of_service = models.CharField(max_length=2, blank=True)
    diagnoses = models.JSONField("Diagnoses (first-listed first)", default=list, blank=True)
    em_code = models.CharField("E/M service", max_length=10, blank=True)
    em_separately_identifiable = models.BooleanField(default=False)
    other_services = models.JSONField("Other procedures that date", default=list, blank=True)
    status = models.CharField(max_length=10, choices=EncounterStatus.choices, default=EncounterStatus.OPEN)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    #: optimistic lock of the encounter's own fields
    version = models.PositiveIntegerField(default=1)
    #: bumped on every documentation change (encounter, administration, pause); derivations record it
    documentation_version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["service_date", "patient_name", "pk"]
        indexes = [
            models.Index(fields=["center", "service_date"]),
            # the coder queue's default order (date, then encounter): its first page without sorting them all
            models.Index(fields=["service_date", "id"], name="encounter_service_date_id_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(version__gte=1), name="encounter_version_positive"),
        ]

    def __str__(self) -> str:
        return f"Encounter {self.pk} ({self.service_date})"

    @property
    def patient_ref(self) -> str:
        """The opaque patient reference used in audit rows (never the name or MRN)."""
        return f"encounter:{self.pk}"


class Administration(models.Model):
    encounter = models.ForeignKey(Encounter, on_delete=models.CASCADE, related_name="administrations")
    drug = models.CharField("Drug", max_length=200)
    hcpcs = models.CharField("HCPCS", max_length=10, blank=True)
    category = models.CharField(max_length=20, choices=Category.choices, blank=True)
    route = models.CharField(max_length=30, choices=Route.choices)
    site = models.CharField(max_length=20, default="A")
    separate_site_required = models.BooleanField(default=False)
    separate_site_reason = models.CharField(max_length=200, blank=True)
    integral_to = models.CharField(max_length=100, blank=True)
    start_at = models.DateTimeField()
    stop_at = models.DateTimeField(null=True, blank=True)
    bag = models.CharField("Mixed bag id", max_length=40, blank=True)
    dose = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    dose_unit = models.CharField(max_length=10, blank=True)
    #: null = not recorded; 0 = "nothing wasted", an explicit choice
    wasted = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    ndc = models.CharField("NDC", max_length=20, blank=True)
    single_dose_container = models.BooleanField(null=True, blank=True)
    acquired_340b = models.BooleanField(default=False)
    purpose = models.CharField(max_length=30, choices=Purpose.choices, blank=True)
    hydration_indication = models.CharField(max_length=200, blank=True)
    primary_reason = models.BooleanField(default=False)
    separate_encounter = models.CharField(max_length=40, blank=True, help_text="Label of a return visit")
    pump_type = models.CharField(max_length=20, choices=PumpType.choices, blank=True)
    pump_supplied_by = models.CharField(max_length=20, choices=PumpSupplier.choices, blank=True)
    hormonal = models.BooleanField(null=True, blank=True)
    billing_unit = models.DecimalField(max_digits=12, decimal_places=4, null=True, blank=True)
    documented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    documented_at = models.DateTimeField(auto_now_add=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    history = HistoricalRecords()

    class Meta:
        ordering = ["start_at", "pk"]
        indexes = [
            # running administrations (timed route, no stop time yet): the queue's "documentation needed"
            # list; few rows, whereas pushes without a stop time are many and stay out of it
            models.Index(
                fields=["encounter"],
                condition=Q(stop_at__isnull=True, route__in=sorted(route.value for route in TIMED_ROUTES)),
                name="administration_running_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(stop_at__isnull=True) | Q(stop_at__gt=models.F("start_at")),
                name="administration_stop_after_start",
            ),
            models.CheckConstraint(condition=Q(dose__isnull=True) | Q(dose__gt=0), name="administration_dose_positive"),
            models.CheckConstraint(
                condition=Q(wasted__isnull=True) | Q(wasted__gte=0), name="administration_wasted_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(billing_unit__isnull=True) | Q(billing_unit__gt=0),
                name="administration_billing_unit_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.drug} ({self.get_route_display()})"

    @property
    def dose_text(self) -> str:
        """The dose without trailing zeros or exponent (700, 0.5)."""
        return format(self.dose.normalize(), "f") if self.dose is not None else ""

    @property
    def wasted_text(self) -> str:
        return format(self.wasted.normalize(), "f") if self.wasted is not None else ""

    @property
    def engine_id(self) -> str:
        return f"A{self.pk}"

    @property
    def running(self) -> bool:
        """Still running: a timed route without a stop time."""
        return self.stop_at is None and self.route in TIMED_ROUTES


class Pause(models.Model):
    administration = models.ForeignKey(Administration, on_delete=models.CASCADE, related_name="pauses")
    start_at = models.DateTimeField()
    stop_at = models.DateTimeField()

    history = HistoricalRecords()

    class Meta:
        ordering = ["start_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(stop_at__gt=models.F("start_at")), name="pause_stop_after_start"),
        ]

    def __str__(self) -> str:
        return f"Pause {self.start_at:%H:%M}-{self.stop_at:%H:%M}"
