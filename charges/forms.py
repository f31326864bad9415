"""Nurse forms. Every field has a visible label; every problem comes back next to its field with
what was typed kept (issue 4 items 3, 5 and 6).

Labels are chosen so that none contains another field's label ("Drug", "Route", "Site", "Start",
"Stop", "Dose", "Wasted" are each unique on the page), which keeps them unambiguous for screen
readers and for browser tests that find fields by label.
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from charges import drug_search, timeparse
from charges.models import BillingEntity, Category, DepartmentStatus, PumpSupplier, PumpType, Purpose, Route, Setting
from charges.services.administrations import PauseSpan, administration_problems
from charges.units import DOSE_UNITS

FIELD_OF = {
    "start_at": "start_time",
    "stop_at": "stop_time",
    "dose": "dose",
    "dose_unit": "dose_unit",
    "wasted": "wasted",
    "drug": "drug",
    "route": "route",
    "site": "site",
    "hcpcs": "drug",
    "category": "category",
}

_CODE_RE = re.compile(r"^[A-Z]\d{2}(\.[0-9A-Z]{1,4})?$")


#: (catalog, {normalized term: entries in catalog order}) of the last catalog `exact_match` indexed
_EXACT_INDEX: list[tuple[tuple[drug_search.DrugEntry, ...], dict[str, list[drug_search.DrugEntry]]] | None] = [None]


def exact_match(text: str, catalog: list[drug_search.DrugEntry]) -> drug_search.DrugEntry | None:
    """`drug_search.exact_match(text, catalog)`, answered from an index of the catalog's names, synonyms
    and codes built once per catalog (the codebook's cached entries) instead of normalizing every term of
    the catalog at each save. Text that matches no term goes to `drug_search.exact_match` (the ingredient
    rule)."""
    q = drug_search.normalize(text)
    if not q:
        return None
    entries = tuple(catalog)
    cached = _EXACT_INDEX[0]
    if (
        cached is not None
        and len(cached[0]) == len(entries)
        and all(a is b for a, b in zip(cached[0], entries, strict=True))
    ):
        index = cached[1]
    else:
        index = {}
        for entry in entries:
            terms = {drug_search.normalize(t) for t in (entry.name, *entry.synonyms)} | {entry.hcpcs.lower()}
            for term in terms:
                index.setdefault(term, []).append(entry)
        _EXACT_INDEX[0] = (entries, index)
    found = index.get(q)
    if not found:
        return drug_search.exact_match(text, entries)
    return found[0] if len({e.hcpcs for e in found}) == 1 else None


def plain(value: Decimal | None) -> str | None:
    """A Decimal as typed by a person: 700, 0.5 (never 7E+2 or 700.0000)."""
    if value is None:
        return None
    return format(value.normalize(), "f")


def _split_codes(text: str) -> list[str]:
    return [c.strip().upper() for c in re.split(r"[,;\s]+", text or "") if c.strip()]


def payer_choices() -> list[tuple[str, str]]:
    from codebook.models import Payer

    today = timezone.localdate()
    rows = Payer.objects.in_force(today).order_by("-is_default", "name").values_list("key", "name")
    seen: dict[str, str] = {}
    for key, name in rows:
        seen.setdefault(key, name)
    return list(seen.items()) or [("medicare", "Medicare")]


class StyledForm(forms.Form):
    """Bootstrap classes on every widget; after validation, aria-invalid and the error's id."""

    def _style(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.HiddenInput, forms.RadioSelect)):
                continue
            if isinstance(widget, forms.CheckboxInput):
                widget.attrs.setdefault("class", "form-check-input")
            elif isinstance(widget, forms.Select):
                widget.attrs.setdefault("class", "form-select")
            else:
                widget.attrs.setdefault("class", "form-control")

    def full_clean(self) -> None:
        super().full_clean()
        self.mark_errors()

    def mark_errors(self) -> None:
        first = True
        for name, field in self.fields.items():
            if name in self.errors:
                bound = self[name]
                field.widget.attrs["aria-invalid"] = "true"
                described = [f"{bound.auto_id}_error"]
                if field.help_text:
                    described.append(f"{bound.auto_id}_helptext")
                field.widget.attrs["aria-describedby"] = " ".join(described)
                field.widget.attrs["class"] = field.widget.attrs.get("class", "") + " is-invalid"
                if first:
                    field.widget.attrs["data-autofocus"] = ""
                    first = False


class EncounterForm(StyledForm):
    center = forms.ModelChoiceField(queryset=None, label="Center", empty_label=None)
    service_date = forms.DateField(label="Date of service", widget=forms.DateInput(attrs={"type": "date"}))
    patient_name = forms.CharField(label="Patient name", max_length=200)
    patient_mrn = forms.CharField(label="MRN", max_length=40)
    patient_dob = forms.DateField(label="Date of birth", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    visit_number = forms.CharField(label="Visit / account number", max_length=40, required=False)
    ordering_provider = forms.CharField(label="Ordering provider", max_length=200, required=False)
    ordering_npi = forms.CharField(label="Ordering provider NPI", max_length=10, required=False)
    setting = forms.ChoiceField(label="Setting", choices=Setting.choices)
    payer = forms.ChoiceField(label="Payer", choices=())
    billing_entity = forms.ChoiceField(label="Billing entity", choices=BillingEntity.choices)
    department_status = forms.ChoiceField(label="Department", choices=DepartmentStatus.choices, required=False)
    diagnoses = forms.CharField(
        label="Diagnoses (ICD-10, first-listed first)",
        required=False,
        help_text="Separate with commas, e.g. C83.30, Z51.11",
    )
    em_code = forms.CharField(label="E/M service code", max_length=10, required=False)
    em_separately_identifiable = forms.BooleanField(label="E/M separately identifiable", required=False)
    other_services = forms.CharField(
        label="Other procedures that date", required=False, help_text="Codes separated by commas, e.g. 36591"
    )

    def __init__(self, *args: Any, centers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["center"].queryset = centers
        self.fields["payer"].choices = payer_choices()
        if centers.count() == 1:
            self.fields["center"].widget = forms.HiddenInput()
        self._style()

    def clean_ordering_npi(self) -> str:
        npi = (self.cleaned_data.get("ordering_npi") or "").strip()
        if npi and not re.fullmatch(r"\d{10}", npi):
            raise ValidationError("An NPI is 10 digits.")
        return npi

    def clean_diagnoses(self) -> list[str]:
        codes = _split_codes(self.cleaned_data.get("diagnoses", ""))
        bad = [c for c in codes if not _CODE_RE.match(c)]
        if bad:
            raise ValidationError(f"Not an ICD-10-CM code: {', '.join(bad)} (e.g. C83.30).")
        return codes

    def clean_other_services(self) -> list[str]:
        codes = _split_codes(self.cleaned_data.get("other_services", ""))
        bad = [c for c in codes if not re.fullmatch(r"[0-9A-Z]\d{3}[0-9A-Z]", c)]
        if bad:
            raise ValidationError(f"Not a procedure code: {', '.join(bad)} (e.g. 36591).")
        return codes

    def clean_em_code(self) -> str:
        code = (self.cleaned_data.get("em_code") or "").strip().upper()
        if code and not re.fullmatch(r"[0-9A-Z]\d{3}[0-9A-Z]", code):
            raise ValidationError("Not an E/M code (e.g. 99213).")
        return code

    def clean_service_date(self) -> datetime.date:
        day = self.cleaned_data["service_date"]
        if day > timezone.localdate() + datetime.timedelta(days=1):
            raise ValidationError("The date of service cannot be in the future.")
        return day

    def values(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("center", None)
        if data.get("setting") != Setting.FACILITY:
            data["department_status"] = DepartmentStatus.ON_CAMPUS
        data["department_status"] = data.get("department_status") or DepartmentStatus.ON_CAMPUS
        return data


class PauseForm(StyledForm):
    start = forms.CharField(label="Paused at", required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"}))
    stop = forms.CharField(label="Resumed at", required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._style()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for key in ("start", "stop"):
            text = (data.get(key) or "").strip()
            if text:
                try:
                    data[f"{key}_clock"] = timeparse.parse_clock(text)
                except timeparse.TimeParseError as exc:
                    self.add_error(key, str(exc))
        if bool((data.get("start") or "").strip()) != bool((data.get("stop") or "").strip()):
            self.add_error("stop" if (data.get("start") or "").strip() else "start", "Enter both times of the pause.")
        return data


PauseFormSet = forms.formset_factory(PauseForm, extra=1, max_num=20, validate_max=True)

_BOOL_CHOICES = [("", "As in the codebook"), ("true", "Single-dose"), ("false", "Multi-dose")]
_FOLD_CHOICES = [("0", "the first (before the clocks fall back)"), ("1", "the second (after)")]


class AdministrationForm(StyledForm):
    """One administration; times typed as 14:30, 1430 or 2:30 pm with a date defaulting to the encounter's."""

    version = forms.IntegerField(widget=forms.HiddenInput(), required=False)
    drug = forms.CharField(
        label="Drug",
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "aria-controls": "drug-options"}),
    )
    hcpcs = forms.CharField(required=False, widget=forms.HiddenInput())
    category = forms.ChoiceField(
        label="Category (only for drugs not in the list)",
        choices=[("", "From the codebook"), *Category.choices],
        required=False,
    )
    route = forms.ChoiceField(label="Route", choices=[("", "Choose…"), *Route.choices])
    site = forms.CharField(label="Site", max_length=20, initial="A", help_text="Vascular access, e.g. A or B")
    start_date = forms.DateField(label="Date given", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    start_time = forms.CharField(
        label="Start", widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "hh:mm"})
    )
    start_fold = forms.ChoiceField(label="Which one?", choices=_FOLD_CHOICES, required=False, widget=forms.RadioSelect)
    stop_date = forms.DateField(label="Date ended", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    stop_time = forms.CharField(
        label="Stop", required=False, widget=forms.TextInput(attrs={"inputmode": "numeric", "placeholder": "hh:mm"})
    )
    stop_fold = forms.ChoiceField(label="Which one?", choices=_FOLD_CHOICES, required=False, widget=forms.RadioSelect)
    stop_next_day = forms.BooleanField(label="Yes, the next day", required=False)
    dose = forms.DecimalField(label="Dose", required=False, max_digits=12, decimal_places=4, min_value=None)
    dose_unit = forms.ChoiceField(label="Unit", choices=[("", "—"), *DOSE_UNITS], required=False)
    wasted = forms.DecimalField(
        label="Wasted",
        required=False,
        max_digits=12,
        decimal_places=4,
        help_text="Amount discarded from a single-dose container, in the dose unit. Empty = not recorded.",
    )
    nothing_wasted = forms.BooleanField(label="Nothing discarded", required=False)
    purpose = forms.ChoiceField(label="Purpose (fluids)", choices=[("", "—"), *Purpose.choices], required=False)
    hydration_indication = forms.CharField(label="Hydration indication", max_length=200, required=False)
    separate_site_required = forms.BooleanField(label="Separate access needed", required=False)
    separate_site_reason = forms.CharField(label="Reason for separate access", max_length=200, required=False)
    ndc = forms.CharField(label="NDC", max_length=20, required=False)
    single_dose_container = forms.ChoiceField(label="Container", choices=_BOOL_CHOICES, required=False)
    acquired_340b = forms.BooleanField(label="Bought under 340B", required=False)
    bag = forms.CharField(label="Mixed bag id", max_length=40, required=False)
    integral_to = forms.CharField(label="Part of procedure", max_length=100, required=False)
    primary_reason = forms.BooleanField(label="Primary reason for the visit", required=False)
    separate_encounter = forms.CharField(label="Return visit label", max_length=40, required=False)
    pump_type = forms.ChoiceField(label="Pump type", choices=[("", "—"), *PumpType.choices], required=False)
    pump_supplied_by = forms.ChoiceField(
        label="Pump supplied by", choices=[("", "Unknown"), *PumpSupplier.choices], required=False
    )
    billing_unit = forms.DecimalField(
        label="Billing unit amount (unclassified drugs)", required=False, max_digits=12, decimal_places=4
    )

    #: fields shown in the "More details" disclosure
    DETAIL_FIELDS = (
        "category",
        "purpose",
        "hydration_indication",
        "separate_site_required",
        "separate_site_reason",
        "ndc",
        "single_dose_container",
        "acquired_340b",
        "bag",
        "integral_to",
        "primary_reason",
        "separate_encounter",
        "pump_type",
        "pump_supplied_by",
        "billing_unit",
    )

    def __init__(
        self,
        *args: Any,
        encounter: Any,
        catalog: list[drug_search.DrugEntry] | None = None,
        now: datetime.datetime | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.encounter = encounter
        self.tz = ZoneInfo(encounter.center.time_zone)
        self.catalog = catalog
        self.now = now
        self.next_day_offer = ""
        self.fold_offer: dict[str, list[tuple[str, str]]] = {}
        self.pause_errors: list[str] = []
        self.conflict: str = ""
        prefix = f"{self.prefix}-pause" if self.prefix else "pause"
        self.pauses = PauseFormSet(
            self.data if self.is_bound else None, prefix=prefix, initial=kwargs.get("initial", {}).get("pauses")
        )
        self.fields["start_date"].initial = self.fields["start_date"].initial or encounter.service_date
        self._style()
        from django.urls import reverse

        self.fields["drug"].widget.attrs.update(
            {
                "hx-get": reverse("charges:drug_search"),
                "hx-trigger": "input changed delay:250ms, search",
                "hx-target": "#drug-options",
                "hx-swap": "innerHTML",
                "hx-sync": "this:replace",
            }
        )
        if not self.is_bound:
            self.fields["drug"].widget.attrs["data-autofocus"] = ""

    @property
    def details_open(self) -> bool:
        return any(name in self.errors for name in self.DETAIL_FIELDS) or bool(
            self.is_bound and any(self.data.get(n) for n in ("category", "bag", "separate_encounter", "ndc"))
        )

    # --- parsing helpers ---------------------------------------------------------------------------

    def _clock(self, field: str) -> datetime.time | None:
        text = (self.cleaned_data.get(field) or "").strip()
        if not text:
            return None
        try:
            return timeparse.parse_clock(text)
        except timeparse.TimeParseError as exc:
            self.add_error(field, str(exc))
            return None

    def _local(self, field: str, day: datetime.date, clock: datetime.time, fold_field: str) -> datetime.datetime | None:
        fold_text = self.cleaned_data.get(fold_field) or ""
        fold = int(fold_text) if fold_text in ("0", "1") else None
        try:
            return timeparse.local_datetime(day, clock, self.tz, fold=fold)
        except timeparse.AmbiguousTime as exc:
            self.fold_offer[fold_field] = [
                ("0", f"{timeparse.describe_choice(exc.choices[0])} (the first)"),
                ("1", f"{timeparse.describe_choice(exc.choices[1])} (the second)"),
            ]
            self.fields[fold_field].choices = self.fold_offer[fold_field]
            self.add_error(field, str(exc))
        except timeparse.NonexistentTime as exc:
            self.add_error(field, str(exc))
        return None

    def _resolve_drug(self, data: dict[str, Any]) -> None:
        if self.catalog is None:
            return
        text = (data.get("drug") or "").strip()
        code = (data.get("hcpcs") or "").strip().upper()
        by_code = {e.hcpcs: e for e in self.catalog}
        entry = by_code.get(code)
        if entry is not None:
            terms = {drug_search.normalize(t) for t in (entry.name, *entry.synonyms)}
            if drug_search.normalize(text) not in terms:
                entry = None
        if entry is None:
            entry = exact_match(text, self.catalog)
        data["hcpcs"] = entry.hcpcs if entry else ""
        self.drug_entry = entry

    def _pause_spans(self, start: datetime.datetime | None, stop: datetime.datetime | None) -> list[PauseSpan]:
        spans: list[PauseSpan] = []
        if not self.pauses.is_valid():
            self.pause_errors.extend(
                str(e) for form in self.pauses.forms for errs in form.errors.values() for e in errs
            )
            self.pause_errors.extend(str(e) for e in self.pauses.non_form_errors())
            return spans
        if start is None:
            return spans
        last_day = (stop or start + datetime.timedelta(hours=24)).date()
        for form in self.pauses.forms:
            a, b = form.cleaned_data.get("start_clock"), form.cleaned_data.get("stop_clock")
            if a is None or b is None:
                continue
            span = None
            day = start.date()
            while day <= last_day and span is None:
                try:
                    pa = timeparse.local_datetime(day, a, self.tz, fold=0)
                    pb = timeparse.local_datetime(
                        day if b >= a else day + datetime.timedelta(days=1), b, self.tz, fold=0
                    )
                except timeparse.LocalTimeError as exc:
                    self.pause_errors.append(str(exc))
                    break
                if pa >= start and (stop is None or pb <= stop):
                    span = PauseSpan(pa, pb)
                day += datetime.timedelta(days=1)
            if span is None:
                fallback_a = timeparse.local_datetime(start.date(), a, self.tz, fold=0)
                fallback_b = timeparse.local_datetime(start.date(), b, self.tz, fold=0)
                span = PauseSpan(fallback_a, fallback_b)
            spans.append(span)
        return spans

    # --- clean ---------------------------------------------------------------------------------------

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        self._resolve_drug(data)
        start_day = data.get("start_date") or self.encounter.service_date
        data["start_date"] = start_day
        start = stop = None
        start_clock = self._clock("start_time") if "start_time" in data else None
        if start_clock is not None:
            start = self._local("start_time", start_day, start_clock, "start_fold")
        stop_clock = self._clock("stop_time")
        stop_day_given = data.get("stop_date")
        if stop_clock is not None:
            stop_day = stop_day_given or start_day
            stop = self._local("stop_time", stop_day, stop_clock, "stop_fold")
            if start is not None and stop is not None and stop <= start and not stop_day_given:
                offer = timeparse.next_day_suggestion(start, stop)
                if offer is not None and data.get("stop_next_day"):
                    stop = offer.stop
                elif offer is not None:
                    self.next_day_offer = offer.message
                    self.add_error(
                        "stop_time",
                        f"Stop {stop:%H:%M} is before start {start:%H:%M}. {offer.message}",
                    )
                    stop = None
        # waste
        if data.get("nothing_wasted"):
            if data.get("wasted") not in (None, Decimal("0")):
                self.add_error("wasted", "Either tick “Nothing discarded” or enter an amount, not both.")
            else:
                data["wasted"] = Decimal("0")
        if data.get("dose") is not None and not data.get("dose_unit"):
            self.add_error("dose_unit", "Choose the unit of the dose.")
        pauses = self._pause_spans(start, stop)
        values = self.values_from(data, start, stop)
        if start is not None and not self.has_error("start_time"):
            # with a catalog, the drug's billing unit is the resolved entry's (the catalog of the service date:
            # what `billing_unit_of` would read again)
            entry = getattr(self, "drug_entry", None)
            problems = administration_problems(
                values=values,
                pauses=pauses,
                now=self.now,
                service_date=self.encounter.service_date,
                billing_unit=None if self.catalog is None else (entry.billing_unit if entry else ""),
            )
            self.apply_problems(problems)
        self.parsed_values = values
        self.parsed_pauses = pauses
        return data

    def apply_problems(self, problems: dict[str, list[str]]) -> None:
        for field, messages in problems.items():
            for message in messages:
                if field == "pauses":
                    if message not in self.pause_errors:
                        self.pause_errors.append(message)
                    continue
                target = FIELD_OF.get(field)
                if target is None or target not in self.fields:
                    self.add_error(None, message)
                elif message not in self.errors.get(target, []):
                    self.add_error(target, message)

    def is_valid(self) -> bool:
        valid = super().is_valid()
        return valid and not self.pause_errors and not self.conflict

    @staticmethod
    def values_from(data: dict[str, Any], start: Any, stop: Any) -> dict[str, Any]:
        container = data.get("single_dose_container") or ""
        return {
            "drug": (data.get("drug") or "").strip(),
            "hcpcs": data.get("hcpcs") or "",
            "category": data.get("category") or "",
            "route": data.get("route") or "",
            "site": (data.get("site") or "A").strip().upper(),
            "separate_site_required": bool(data.get("separate_site_required")),
            "separate_site_reason": data.get("separate_site_reason") or "",
            "integral_to": data.get("integral_to") or "",
            "start_at": start,
            "stop_at": stop,
            "bag": data.get("bag") or "",
            "dose": data.get("dose"),
            "dose_unit": data.get("dose_unit") or "",
            "wasted": data.get("wasted"),
            "ndc": data.get("ndc") or "",
            "single_dose_container": {"true": True, "false": False}.get(container),
            "acquired_340b": bool(data.get("acquired_340b")),
            "purpose": data.get("purpose") or "",
            "hydration_indication": data.get("hydration_indication") or "",
            "primary_reason": bool(data.get("primary_reason")),
            "separate_encounter": (data.get("separate_encounter") or "").strip(),
            "pump_type": data.get("pump_type") or "",
            "pump_supplied_by": data.get("pump_supplied_by") or "",
            "billing_unit": data.get("billing_unit"),
        }

    @classmethod
    def initial_for(cls, adm: Any) -> dict[str, Any]:
        tz = ZoneInfo(adm.encounter.center.time_zone)
        start = adm.start_at.astimezone(tz)
        stop = adm.stop_at.astimezone(tz) if adm.stop_at else None
        initial = {
            "version": adm.version,
            "drug": adm.drug,
            "hcpcs": adm.hcpcs,
            "category": adm.category,
            "route": adm.route,
            "site": adm.site,
            "start_date": start.date(),
            "start_time": f"{start:%H:%M}",
            "stop_date": stop.date() if stop and stop.date() != start.date() else None,
            "stop_time": f"{stop:%H:%M}" if stop else "",
            "dose": plain(adm.dose),
            "dose_unit": adm.dose_unit,
            "wasted": plain(adm.wasted),
            "nothing_wasted": adm.wasted is not None and adm.wasted == 0,
            "purpose": adm.purpose,
            "hydration_indication": adm.hydration_indication,
            "separate_site_required": adm.separate_site_required,
            "separate_site_reason": adm.separate_site_reason,
            "ndc": adm.ndc,
            "single_dose_container": {True: "true", False: "false"}.get(adm.single_dose_container, ""),
            "acquired_340b": adm.acquired_340b,
            "bag": adm.bag,
            "integral_to": adm.integral_to,
            "primary_reason": adm.primary_reason,
            "separate_encounter": adm.separate_encounter,
            "pump_type": adm.pump_type,
            "pump_supplied_by": adm.pump_supplied_by,
            "billing_unit": plain(adm.billing_unit),
            "pauses": [
                {"start": f"{p.start_at.astimezone(tz):%H:%M}", "stop": f"{p.stop_at.astimezone(tz):%H:%M}"}
                for p in adm.pauses.all()
            ],
        }
        return initial


class SignForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput(), required=False)
