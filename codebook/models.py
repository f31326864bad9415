"""The codebook: codes, drugs, modifiers, diagnoses, payers and their notes, prices and MUEs.

Every row is effective-dated: ``valid_from`` (required) and ``valid_to`` (empty = open-ended). One key
(a procedure code, a drug's HCPCS, a payer key, ...) has at most one version in force on any day:
the database refuses a second row with the same key and ``valid_from`` and a ``valid_to`` before
``valid_from``; ``clean()`` refuses overlapping periods. A row whose period has started is never
edited in place: ``codebook.services.codebook_new_version`` closes it (``valid_to`` = the day
before) and opens the next, so a past date of service keeps the rules it was charged under.

The columns mirror the seed files of ``codebook/data/`` (docs/contracts.md section 1): each model
declares ``TABLE`` (the seed file stem), ``KEY`` (the fields that name one versioned thing) and
``COLUMNS`` (the seed columns in file order, with the model field and the cell kind). Amounts and
prices are ``Decimal``, never float. History of every change is kept by django-simple-history.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
from typing import ClassVar, NamedTuple

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from charges.engine import snapshot
from codebook.cells import split_list


class Column(NamedTuple):
    """One seed column: its header, the model field it fills and how its cell text is parsed."""

    name: str
    field: str
    kind: str = "text"  # text, bool, int, decimal, date, payer
    required: bool = False


PERIOD_COLUMNS = (Column("valid_from", "valid_from", "date", True), Column("valid_to", "valid_to", "date"))

# ---------------------------------------------------------------------------------------------
# Cell validators (lists are stored as their canonical "|"-joined text)

procedure_code_validator = RegexValidator(r"^[0-9A-Z]{5}$", "A procedure or HCPCS code is five letters or digits.")
hcpcs_validator = procedure_code_validator
revenue_code_validator = RegexValidator(r"^[0-9]{4}$", "A revenue code is four digits.")
modifier_validator = RegexValidator(r"^[0-9A-Z]{2}$", "A modifier is two letters or digits.")
icd10_validator = RegexValidator(
    r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$", "An ICD-10-CM code looks like C83.30 or Z51.11."
)
pos_validator = RegexValidator(r"^[0-9]{2}$", "A place of service is two digits.")
key_validator = RegexValidator(r"^[a-z0-9_]+$", "A key is lower-case letters, digits and underscores.")


def validate_pipe_list(value: str) -> None:
    """A ``|``-list has no empty item, no item padded with spaces and no repeated item."""
    if not value:
        return
    items = value.split("|")
    if any(item != item.strip() or not item for item in items):
        raise ValidationError("List items are separated by | with no empty item and no spaces around them.")
    if len(set(items)) != len(items):
        raise ValidationError("A list item is repeated.")


def validate_settings_list(value: str) -> None:
    validate_pipe_list(value)
    unknown = [item for item in split_list(value) if item not in ("facility", "professional")]
    if unknown or not value:
        raise ValidationError("Settings are facility and/or professional, separated by |.")


def validate_vaccine_admin_codes(value: str) -> None:
    validate_pipe_list(value)
    code = RegexValidator(r"^[a-z_]+:[0-9A-Z]{5}$")
    for item in split_list(value):
        try:
            code(item)
        except ValidationError:
            raise ValidationError(f"{item!r} is not kind:CODE (e.g. influenza:G0008 or first:90471).") from None


def validate_chemo_drug_list(value: str) -> None:
    validate_pipe_list(value)
    code = RegexValidator(r"^!?[A-Z0-9][0-9]{4}$")
    for item in split_list(value):
        try:
            code(item)
        except ValidationError:
            raise ValidationError(f"{item!r} is not an HCPCS code (J9312, or !J0897 to remove one).") from None


# ---------------------------------------------------------------------------------------------


class EffectiveDatedQuerySet(models.QuerySet):
    def in_force(self, day: datetime.date) -> EffectiveDatedQuerySet:
        """Rows whose period contains ``day``."""
        return self.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=day), valid_from__lte=day)

    def overlapping(self, valid_from: datetime.date, valid_to: datetime.date | None) -> EffectiveDatedQuerySet:
        """Rows whose period shares at least one day with [valid_from, valid_to]."""
        rows = self.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=valid_from))
        if valid_to is not None:
            rows = rows.filter(valid_from__lte=valid_to)
        return rows


class EffectiveDated(models.Model):
    """Abstract base: a period of validity and the per-table metadata the services work from."""

    TABLE: ClassVar[str]
    KEY: ClassVar[tuple[str, ...]]
    COLUMNS: ClassVar[tuple[Column, ...]]

    valid_from = models.DateField(help_text="First day this version is in force.")
    valid_to = models.DateField(null=True, blank=True, help_text="Last day in force; empty = open-ended.")

    objects = EffectiveDatedQuerySet.as_manager()

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.key_label()} ({self.period_label()})"

    # -- identity -----------------------------------------------------------------------------
    def key_values(self) -> tuple:
        """The values that name this row's versioned thing (``payer`` is rendered by its key)."""
        return tuple(self._key_value(name) for name in self.KEY)

    def _key_value(self, name: str):
        if name == "payer":
            return self.payer.key if self.payer_id else None
        return getattr(self, name)

    def key_label(self) -> str:
        return " / ".join(str(value) for value in self.key_values() if value not in ("", None)) or "(whole payer)"

    def same_key_rows(self) -> EffectiveDatedQuerySet:
        """Every version of this row's key (this row included, when saved)."""
        lookups = {}
        for name in self.KEY:
            lookups["payer__key" if name == "payer" else name] = self._key_value(name)
        return type(self)._default_manager.filter(**lookups)

    # -- period -------------------------------------------------------------------------------
    def has_started(self, today: datetime.date | None = None) -> bool:
        """True once ``valid_from`` is today or past: the row may have been charged and is read-only."""
        return self.valid_from is not None and self.valid_from <= (today or datetime.date.today())

    def in_force_on(self, day: datetime.date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or self.valid_to >= day)

    def clean_period(self) -> None:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValidationError({"valid_to": "The last day in force cannot be before the first day."})

    def clean_overlap(self) -> None:
        """Refuse a period that shares a day with another version of the same key."""
        if self.valid_from is None or any(v is None for v in self.key_values()):
            return
        clash = self.same_key_rows().exclude(pk=self.pk).overlapping(self.valid_from, self.valid_to).first()
        if clash is not None:
            end = clash.valid_to.isoformat() if clash.valid_to else "open-ended"
            raise ValidationError(
                {
                    "valid_from": f"{self.key_label()} already has a version in force {clash.valid_from.isoformat()}"
                    f" to {end}; close it with 'new version' instead of adding an overlapping row."
                }
            )

    def clean_rules(self) -> None:
        """Rules on this row alone (no database query). Imports and the seed loader call it directly.

        The row's cells must pass the very checks the seed loader applies to the seed files
        (``charges.engine.snapshot.read_table``), so nothing the admin saves can break the rules book.
        """
        from codebook.rows import row_cells  # rows imports this module

        if self.valid_from is None or (any(c.kind == "payer" for c in self.COLUMNS) and not self.payer_id):
            return
        cells = row_cells(self)
        names = [column.name for column in self.COLUMNS]
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        writer.writerow([cells[name] for name in names])
        buffer.seek(0)
        try:
            snapshot.read_table(buffer, self.TABLE)
        except snapshot.SeedError as error:
            text = str(error)
            match = re.search(r"column (\w+): ", text)
            if match is None:
                raise ValidationError(text) from None
            name, reason = match.group(1), text[match.end() :]
            if name in cells and reason.startswith(repr(cells[name]) + ": "):
                reason = reason[len(repr(cells[name])) + 2 :]
            field = {c.name: c.field for c in self.COLUMNS}.get(name, NON_FIELD_ERRORS)
            raise ValidationError({field: reason[:1].upper() + reason[1:] + "."}) from None

    def clean(self) -> None:
        super().clean()
        self.clean_period()
        self.clean_rules()
        self.clean_overlap()

    def period_label(self) -> str:
        end = self.valid_to.isoformat() if self.valid_to else "open"
        return f"{self.valid_from.isoformat()} to {end}"


def period_constraints(prefix: str, key: tuple[str, ...]) -> list:
    return [
        models.UniqueConstraint(fields=[*key, "valid_from"], name=f"{prefix}_one_version_per_start"),
        models.CheckConstraint(
            condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
            name=f"{prefix}_valid_to_after_from",
        ),
    ]


# ---------------------------------------------------------------------------------------------


class ProcedureCode(EffectiveDated):
    class Kind(models.TextChoices):
        INITIAL = "initial", "initial"
        ADDON = "addon", "add-on"
        STANDALONE = "standalone", "stand-alone"
        EM = "em", "E/M"
        UNLISTED = "unlisted", "unlisted"

    TABLE = "procedure_codes"
    KEY = ("code",)

    code = models.CharField(max_length=5, validators=[procedure_code_validator])
    description = models.CharField(
        max_length=200, help_text="Our own short description, never the AMA descriptor text."
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    settings = models.CharField(
        max_length=40,
        default="facility|professional",
        validators=[validate_settings_list],
        help_text="Settings where it may be billed: facility|professional.",
    )
    mue_professional = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units per day, practitioner services; empty = no check."
    )
    mue_facility = models.PositiveIntegerField(
        null=True, blank=True, help_text="Units per day, facility claims; empty = no check."
    )
    mue_verified = models.BooleanField(default=False, help_text="MUE values checked against the current CMS table.")
    revenue_code = models.CharField(max_length=4, blank=True, validators=[revenue_code_validator])
    price = models.DecimalField(max_digits=14, decimal_places=4, help_text="Chargemaster amount per unit.")

    COLUMNS = (
        Column("code", "code", required=True),
        Column("description", "description"),
        Column("kind", "kind", required=True),
        Column("settings", "settings", required=True),
        Column("mue_professional", "mue_professional", "int"),
        Column("mue_facility", "mue_facility", "int"),
        Column("mue_verified", "mue_verified", "bool", True),
        Column("revenue_code", "revenue_code"),
        Column("price", "price", "decimal", True),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "procedure code"
        ordering = ["code", "valid_from"]
        constraints = period_constraints("procedure_code", ("code",))
        indexes = [models.Index(fields=["code", "valid_from"], name="procedure_code_key_idx")]


class AddonPrimary(EffectiveDated):
    TABLE = "addon_primaries"
    KEY = ("addon", "primary")

    addon = models.CharField(max_length=5, validators=[procedure_code_validator], help_text="The add-on code.")
    primary = models.CharField(
        max_length=5, validators=[procedure_code_validator], help_text="A primary code the add-on may follow."
    )

    COLUMNS = (
        Column("addon", "addon", required=True),
        Column("primary", "primary", required=True),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "add-on primary"
        verbose_name_plural = "add-on primaries"
        ordering = ["addon", "primary", "valid_from"]
        constraints = period_constraints("addon_primary", ("addon", "primary"))


class PtpPair(EffectiveDated):
    class Indicator(models.TextChoices):
        NEVER = "0", "0 - no modifier allowed"
        ALLOWED = "1", "1 - a modifier may bypass"
        NOT_APPLICABLE = "9", "9 - not applicable"

    TABLE = "ptp_pairs"
    KEY = ("column1", "column2")

    column1 = models.CharField(max_length=5, validators=[procedure_code_validator])
    column2 = models.CharField(max_length=5, validators=[procedure_code_validator])
    modifier_indicator = models.CharField(max_length=1, choices=Indicator.choices)

    COLUMNS = (
        Column("column1", "column1", required=True),
        Column("column2", "column2", required=True),
        Column("modifier_indicator", "modifier_indicator", required=True),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "PTP pair"
        ordering = ["column1", "column2", "valid_from"]
        constraints = period_constraints("ptp_pair", ("column1", "column2"))


class Drug(EffectiveDated):
    class BillingUnit(models.TextChoices):
        MG = "mg"
        MCG = "mcg"
        G = "g"
        ML = "mL"
        L = "L"
        UNITS = "units"
        MEQ = "mEq"
        DOSE = "dose"

    class Category(models.TextChoices):
        CHEMO = "chemo"
        THERAPEUTIC = "therapeutic"
        HYDRATION = "hydration"

    class VaccineKind(models.TextChoices):
        INFLUENZA = "influenza"
        PNEUMOCOCCAL = "pneumococcal"
        HEPATITIS_B = "hepatitis_b", "hepatitis B"
        OTHER = "other"

    class Container(models.TextChoices):
        SINGLE = "single", "single-dose"
        MULTI = "multi", "multi-dose"

    TABLE = "drugs"
    KEY = ("hcpcs",)

    hcpcs = models.CharField("HCPCS", max_length=5, validators=[hcpcs_validator])
    name = models.CharField(max_length=200)
    synonyms = models.TextField(
        blank=True, validators=[validate_pipe_list], help_text="Names nurses type, separated by |."
    )
    ingredient = models.CharField(max_length=100, blank=True, help_text="Codes of one ingredient share it.")
    billing_unit_amount = models.DecimalField(
        max_digits=14, decimal_places=4, help_text="How much of the billing unit one HCPCS unit is (e.g. 10 mg)."
    )
    billing_unit = models.CharField(max_length=5, choices=BillingUnit.choices)
    category = models.CharField(max_length=11, choices=Category.choices, blank=True)
    hormonal = models.BooleanField(default=False, help_text="Hormonal anti-neoplastic (96402).")
    vaccine_kind = models.CharField(max_length=12, choices=VaccineKind.choices, blank=True)
    electrolyte = models.BooleanField(default=False)
    container = models.CharField(max_length=6, choices=Container.choices, blank=True)
    opps_status = models.CharField(
        "OPPS status",
        max_length=2,
        help_text="OPPS status indicator: K, G separately payable; N packaged.",
    )
    ndcs = models.TextField("NDCs", blank=True, validators=[validate_pipe_list], help_text="Separated by |.")
    ndc_required = models.BooleanField("NDC required", default=False)
    unclassified = models.BooleanField(default=False, help_text="J3490, J3590, J9999, C9399.")
    price = models.DecimalField(max_digits=14, decimal_places=4, help_text="Chargemaster amount per billing unit.")

    COLUMNS = (
        Column("hcpcs", "hcpcs", required=True),
        Column("name", "name", required=True),
        Column("synonyms", "synonyms"),
        Column("ingredient", "ingredient"),
        Column("billing_unit_amount", "billing_unit_amount", "decimal", True),
        Column("billing_unit", "billing_unit", required=True),
        Column("category", "category"),
        Column("hormonal", "hormonal", "bool", True),
        Column("vaccine_kind", "vaccine_kind"),
        Column("electrolyte", "electrolyte", "bool", True),
        Column("container", "container"),
        Column("opps_status", "opps_status", required=True),
        Column("ndcs", "ndcs"),
        Column("ndc_required", "ndc_required", "bool", True),
        Column("unclassified", "unclassified", "bool", True),
        Column("price", "price", "decimal", True),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["hcpcs", "valid_from"]
        constraints = [
            *period_constraints("drug", ("hcpcs",)),
            models.CheckConstraint(
                condition=Q(billing_unit_amount__gt=0),
                name="drug_billing_unit_amount_positive",
            ),
        ]

    @property
    def synonym_list(self) -> list[str]:
        return split_list(self.synonyms)

    @property
    def ndc_list(self) -> list[str]:
        return split_list(self.ndcs)


class Modifier(EffectiveDated):
    TABLE = "modifiers"
    KEY = ("code",)

    code = models.CharField(max_length=2, validators=[modifier_validator])
    description = models.CharField(max_length=200)

    COLUMNS = (Column("code", "code", required=True), Column("description", "description"), *PERIOD_COLUMNS)

    history = HistoricalRecords()

    class Meta:
        ordering = ["code", "valid_from"]
        constraints = period_constraints("modifier", ("code",))


class Icd10Code(EffectiveDated):
    TABLE = "icd10"
    KEY = ("code",)

    code = models.CharField(max_length=8, validators=[icd10_validator])
    description = models.CharField(max_length=250)

    COLUMNS = (Column("code", "code", required=True), Column("description", "description"), *PERIOD_COLUMNS)

    history = HistoricalRecords()

    class Meta:
        verbose_name = "ICD-10-CM code"
        ordering = ["code", "valid_from"]
        constraints = period_constraints("icd10_code", ("code",))


class Payer(EffectiveDated):
    """A payer and its settings (coding-rules.md section P)."""

    class RepeatInfusionMethod(models.TextChoices):
        ADD_TIMES = "add_times", "add the times"
        INTERVAL = "interval", "per interval"

    TABLE = "payers"
    KEY = ("key",)

    key = models.CharField(max_length=40, validators=[key_validator])
    name = models.CharField(max_length=200)
    is_default = models.BooleanField(default=False, help_text="The payer used when none is known (exactly one).")
    distinct_site_modifier = models.CharField(max_length=2, validators=[modifier_validator], help_text="R8, R14.")
    separate_encounter_modifier = models.CharField(max_length=2, validators=[modifier_validator], help_text="R8.")
    missing_stop_as_push = models.BooleanField(default=False, help_text="R2.")
    combine_hydration_intervals = models.BooleanField(default=True, help_text="R4.")
    repeat_infusion_method = models.CharField(
        max_length=9, choices=RepeatInfusionMethod.choices, default=RepeatInfusionMethod.ADD_TIMES, help_text="R13."
    )
    split_dose_per_injection = models.BooleanField(default=False, help_text="R14.")
    waste_modifiers_required = models.BooleanField(default=False, help_text="R19 (JW/JZ).")
    modifier_340b_hospital = models.CharField(
        "340B modifier (hospital)", max_length=2, blank=True, validators=[modifier_validator]
    )
    modifier_340b_covered_entity = models.CharField(
        "340B modifier (covered entity)", max_length=2, blank=True, validators=[modifier_validator]
    )
    facility_em_code = models.CharField(
        "facility E/M code", max_length=5, blank=True, help_text="R17; empty = the E/M as given."
    )
    prolonged_pump_code_facility = models.CharField(
        max_length=5, blank=True, help_text="R15; empty = none (e.g. C8957 for Medicare)."
    )
    vaccine_admin_codes = models.CharField(
        max_length=200,
        blank=True,
        validators=[validate_vaccine_admin_codes],
        help_text="R14: influenza:G0008|pneumococcal:G0009|hepatitis_b:G0010, or first:90471|additional:90472.",
    )
    ndc_required = models.BooleanField("NDC required", default=False, help_text="R19.")
    chemo_drug_list = models.TextField(
        blank=True,
        validators=[validate_chemo_drug_list],
        help_text="HCPCS treated as chemo regardless of the codebook category, separated by |; "
        "!J0897 removes one; empty = the codebook category.",
    )

    COLUMNS = (
        Column("key", "key", required=True),
        Column("name", "name", required=True),
        Column("is_default", "is_default", "bool", True),
        Column("distinct_site_modifier", "distinct_site_modifier", required=True),
        Column("separate_encounter_modifier", "separate_encounter_modifier", required=True),
        Column("missing_stop_as_push", "missing_stop_as_push", "bool", True),
        Column("combine_hydration_intervals", "combine_hydration_intervals", "bool", True),
        Column("repeat_infusion_method", "repeat_infusion_method", required=True),
        Column("split_dose_per_injection", "split_dose_per_injection", "bool", True),
        Column("waste_modifiers_required", "waste_modifiers_required", "bool", True),
        Column("modifier_340b_hospital", "modifier_340b_hospital"),
        Column("modifier_340b_covered_entity", "modifier_340b_covered_entity"),
        Column("facility_em_code", "facility_em_code"),
        Column("prolonged_pump_code_facility", "prolonged_pump_code_facility"),
        Column("vaccine_admin_codes", "vaccine_admin_codes"),
        Column("ndc_required", "ndc_required", "bool", True),
        Column("chemo_drug_list", "chemo_drug_list"),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["key", "valid_from"]
        constraints = period_constraints("payer", ("key",))

    def clean(self) -> None:
        super().clean()
        if self.is_default and self.valid_from and self.key:
            other = (
                Payer.objects.filter(is_default=True)
                .exclude(key=self.key)
                .overlapping(self.valid_from, self.valid_to)
                .first()
            )
            if other is not None:
                raise ValidationError({"is_default": f"{other.key} is already the default payer in that period."})


class PayerNote(EffectiveDated):
    """Free text on a payer and optionally a code, shown to coders next to that code.

    ``payer`` points at one version of the payer; the note belongs to the payer *key* (its other
    versions included). The seed and the CSV files name the payer by its key.
    """

    TABLE = "payer_notes"
    KEY = ("payer", "code", "note")
    VERSION_KEY = ("payer", "code")  # a new version may reword the note

    payer = models.ForeignKey(Payer, on_delete=models.PROTECT, related_name="notes")
    code = models.CharField(max_length=5, blank=True, help_text="Empty = a note on the whole payer.")
    note = models.TextField()

    COLUMNS = (
        Column("payer", "payer", "payer", True),
        Column("code", "code"),
        Column("note", "note", required=True),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["payer__key", "code", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="payer_note_valid_to_after_from",
            ),
        ]

    def __str__(self) -> str:
        where = f"{self.payer.key}" + (f" {self.code}" if self.code else "")
        return f"{where}: {self.note[:60]} ({self.period_label()})"


class FacilityPlaceOfService(EffectiveDated):
    """Places of service where the hospital bills the administration (R16)."""

    TABLE = "facility_places_of_service"
    KEY = ("place_of_service",)

    place_of_service = models.CharField(max_length=2, validators=[pos_validator])
    description = models.CharField(max_length=200)

    COLUMNS = (
        Column("place_of_service", "place_of_service", required=True),
        Column("description", "description"),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        verbose_name = "facility place of service"
        verbose_name_plural = "facility places of service"
        ordering = ["place_of_service", "valid_from"]
        constraints = period_constraints("facility_pos", ("place_of_service",))


class RevenueCode(EffectiveDated):
    class Key(models.TextChoices):
        ADMINISTRATION = "administration"
        CHEMO_IV = "chemo_iv", "chemotherapy IV"
        CHEMO_INJECTED = "chemo_injected", "chemotherapy injected"
        DRUG_SEPARATELY_PAYABLE = "drug_separately_payable", "drug, separately payable"
        DRUG_PACKAGED = "drug_packaged", "drug, packaged"
        IV_SOLUTION = "iv_solution", "IV solution"
        CLINIC_VISIT = "clinic_visit", "clinic visit"
        EMERGENCY = "emergency"
        PUMP = "pump"

    TABLE = "revenue_codes"
    KEY = ("key",)

    key = models.CharField(max_length=30, choices=Key.choices)
    revenue_code = models.CharField(max_length=4, validators=[revenue_code_validator])

    COLUMNS = (
        Column("key", "key", required=True),
        Column("revenue_code", "revenue_code", required=True),
        *PERIOD_COLUMNS,
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["key", "valid_from"]
        constraints = period_constraints("revenue_code", ("key",))


class CodebookRevision(models.Model):
    """One row whose ``token`` changes with every codebook change: the cache key of ``rules_book()``.

    A random token (not a counter) so that a rolled-back change followed by another change never
    reuses the token of a book cached inside the rolled-back transaction. ``version`` is the seed
    version string the codebook was loaded from (``codebook/data/VERSION``).
    """

    token = models.CharField(max_length=32)
    version = models.CharField(max_length=40, blank=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "codebook revision"

    def __str__(self) -> str:
        return f"codebook {self.version or '?'} @ {self.token[:12]}"


CODEBOOK_MODELS: tuple[type[EffectiveDated], ...] = (
    ProcedureCode,
    AddonPrimary,
    PtpPair,
    Drug,
    Modifier,
    Icd10Code,
    Payer,
    PayerNote,
    FacilityPlaceOfService,
    RevenueCode,
)
MODELS_BY_TABLE: dict[str, type[EffectiveDated]] = {model.TABLE: model for model in CODEBOOK_MODELS}
