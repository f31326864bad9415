"""The codebook in the Django admin, kept by the ``admin`` role (group "codebook keepers").

Who may do what comes from Django's model permissions, which ``accounts.services.sync_role_groups``
gives the role groups: keepers (role ``admin``) add, change and import; readers (role ``manager``)
only view; nurses and coders are not staff and cannot open the admin.

Rules the admin enforces (and the services enforce again):

* A row whose period has started (``valid_from`` today or earlier) may have been charged: it is
  shown read-only and cannot be deleted. It changes only through **New version** (the action on
  the list, or the button on the row's page), which asks for the first day of the new version
  and its values, closes the row on the day before and opens the new one.
* Rows that start in the future can be edited and deleted in place.
* **Import CSV** (button on each list) takes a file with the seed's columns; a bad row gives a
  message naming the row and the column, and nothing of the file is imported. **Export CSV**
  (action on selected rows, or the button for all rows) writes the same columns.
* Every save, deletion, new version and import writes an audit event (``codebook.*``). History
  (django-simple-history) is view-only: reverting would edit a row in place.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from codebook.models import (
    AddonPrimary,
    Drug,
    EffectiveDated,
    FacilityPlaceOfService,
    Icd10Code,
    Modifier,
    Payer,
    PayerNote,
    ProcedureCode,
    PtpPair,
    RevenueCode,
)
from codebook.services import (
    CodebookError,
    ImportRejected,
    codebook_check_save,
    codebook_close_row,
    codebook_delete_row,
    codebook_export_csv,
    codebook_import_csv,
    codebook_new_version,
    codebook_save_row,
)


class InForceFilter(admin.SimpleListFilter):
    title = "in force"
    parameter_name = "in_force"

    def lookups(self, request, model_admin):
        return [("today", "in force today"), ("future", "starts later"), ("ended", "ended")]

    def queryset(self, request, queryset):
        today = timezone.localdate()
        if self.value() == "today":
            return queryset.in_force(today)
        if self.value() == "future":
            return queryset.filter(valid_from__gt=today)
        if self.value() == "ended":
            return queryset.filter(valid_to__lt=today)
        return queryset


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8, a header row with the seed's columns.")


class CloseForm(forms.Form):
    valid_to = forms.DateField(label="Last day in force", help_text="YYYY-MM-DD")


class CodebookRowForm(forms.ModelForm):
    """The model's own validation, then a dry run: the whole codebook must still build a rules book."""

    def _post_clean(self):
        super()._post_clean()
        if not self.errors:
            problem = codebook_check_save(row=self.instance)
            if problem:
                self.add_error(None, problem)


class CodebookAdmin(SimpleHistoryAdmin):
    """Shared behaviour of every codebook table's admin."""

    form = CodebookRowForm

    list_per_page = 100
    date_hierarchy = None
    actions = ["new_version_action", "export_csv_action"]
    change_form_template = "admin/codebook/change_form.html"
    change_list_template = "admin/codebook/change_list.html"

    # -- permissions --------------------------------------------------------------------------
    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.has_started(timezone.localdate()):
            return False  # started rows change only through "new version"
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.has_started(timezone.localdate()):
            return False
        return super().has_delete_permission(request, obj)

    def revert_disabled(self, request, obj=None):
        return True

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        if request.method == "POST":
            raise PermissionDenied("history is read-only: use 'new version' to change a row")
        return super().history_form_view(request, object_id, version_id, extra_context)

    def _can_version(self, request) -> bool:
        return super().has_add_permission(request) and super().has_change_permission(request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletion goes row by row through the service
        if not self._can_version(request):
            actions.pop("new_version_action", None)
        return actions

    # -- columns --------------------------------------------------------------------------------
    @admin.display(boolean=True, description="in force today")
    def in_force_today(self, obj: EffectiveDated) -> bool:
        return obj.in_force_on(timezone.localdate())

    # -- saving through the services ------------------------------------------------------------
    def save_model(self, request, obj, form, change):
        obj._history_user = request.user
        try:
            codebook_save_row(row=obj, actor=request.user)
        except CodebookError as error:  # a race with another keeper; the form checked the rest
            raise PermissionDenied(str(error)) from None

    def delete_model(self, request, obj):
        try:
            codebook_delete_row(row=obj, actor=request.user)
        except CodebookError as error:
            raise PermissionDenied(str(error)) from None

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    # -- extra pages ----------------------------------------------------------------------------
    def get_urls(self):
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        extra = [
            path("import-csv/", self.admin_site.admin_view(self.import_csv_view), name=f"{prefix}_import_csv"),
            path("export-csv/", self.admin_site.admin_view(self.export_csv_view), name=f"{prefix}_export_csv"),
            path(
                "<path:object_id>/end/",
                self.admin_site.admin_view(self.close_view),
                name=f"{prefix}_close",
            ),
            path(
                "<path:object_id>/new-version/",
                self.admin_site.admin_view(self.new_version_view),
                name=f"{prefix}_new_version",
            ),
        ]
        return extra + super().get_urls()

    def _url(self, name: str, *args) -> str:
        return reverse(
            f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_{name}",
            args=args,
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "codebook_import_url": self._url("import_csv") if self._can_version(request) else None,
            "codebook_export_url": self._url("export_csv"),
        }
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if object_id and self._can_version(request):
            extra_context["codebook_new_version_url"] = self._url("new_version", object_id)
            extra_context["codebook_close_url"] = self._url("close", object_id)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def _page(self, request, template: str, title: str, **context):
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": title,
                "changelist_url": reverse(
                    f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist"
                ),
                **context,
            },
        )

    # CSV import ---------------------------------------------------------------------------------
    def import_csv_view(self, request):
        if not self._can_version(request):
            raise PermissionDenied
        errors: list[str] = []
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                result = codebook_import_csv(model=self.model, file=form.cleaned_data["file"], actor=request.user)
            except ImportRejected as rejected:
                errors = rejected.errors
            except CodebookError as error:
                errors = [str(error)]
            else:
                self.message_user(request, f"{self.opts.verbose_name_plural}: {result.summary()}.", messages.SUCCESS)
                return HttpResponseRedirect(self._url("changelist"))
        return self._page(
            request,
            "admin/codebook/import_csv.html",
            f"Import {self.opts.verbose_name_plural} from CSV",
            form=form,
            errors=errors,
            columns=[column.name for column in self.model.COLUMNS],
        )

    # CSV export ---------------------------------------------------------------------------------
    def _csv_response(self, rows=None) -> HttpResponse:
        response = HttpResponse(
            codebook_export_csv(model=self.model, rows=rows), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{self.model.TABLE}.csv"'
        return response

    def export_csv_view(self, request):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        return self._csv_response()

    @admin.action(description="Export selected rows as CSV", permissions=["view"])
    def export_csv_action(self, request, queryset):
        return self._csv_response(queryset)

    # End a row (no successor) -----------------------------------------------------------------------
    def close_view(self, request, object_id):
        if not self._can_version(request):
            raise PermissionDenied
        row = get_object_or_404(self.model, pk=object_id)
        form = CloseForm(request.POST or None, initial={"valid_to": row.valid_to or timezone.localdate()})
        if request.method == "POST" and form.is_valid():
            try:
                codebook_close_row(row=row, valid_to=form.cleaned_data["valid_to"], actor=request.user)
            except CodebookError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(
                    request, f"{row.key_label()}: in force until {form.cleaned_data['valid_to']}.", messages.SUCCESS
                )
                return HttpResponseRedirect(self._url("changelist"))
        return self._page(
            request, "admin/codebook/close.html", f"End {row.key_label()}", form=form, row=row, original=row
        )

    # New version ----------------------------------------------------------------------------------
    @admin.action(description="New version of the selected row (closes it, opens the next)")
    def new_version_action(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one row to give a new version.", messages.WARNING)
            return None
        return HttpResponseRedirect(self._url("new_version", queryset.get().pk))

    def _version_fields(self) -> list[str]:
        fixed = set(getattr(self.model, "VERSION_KEY", self.model.KEY))
        return [
            column.field
            for column in self.model.COLUMNS
            if column.field not in fixed and column.field not in ("valid_from", "valid_to")
        ]

    def _version_form_class(self):
        fields = forms.fields_for_model(self.model, fields=self._version_fields())
        fields = {"valid_from": forms.DateField(label="New version in force from", help_text="YYYY-MM-DD"), **fields}
        return type("NewVersionForm", (forms.Form,), fields)

    def new_version_view(self, request, object_id):
        if not self._can_version(request):
            raise PermissionDenied
        row = get_object_or_404(self.model, pk=object_id)
        form_class = self._version_form_class()
        names = self._version_fields()
        if request.method == "POST":
            form = form_class(request.POST)
            if form.is_valid():
                changes = {name: form.cleaned_data[name] for name in names}
                changes = {name: value for name, value in changes.items() if value != getattr(row, name)}
                try:
                    successor = codebook_new_version(
                        row=row, valid_from=form.cleaned_data["valid_from"], actor=request.user, **changes
                    )
                except (CodebookError, ValidationError) as error:
                    form.add_error(None, error.messages if isinstance(error, ValidationError) else str(error))
                else:
                    self.message_user(
                        request,
                        f"{row.key_label()}: closed on {successor.valid_from - datetime.timedelta(days=1)}; "
                        f"the new version is in force from {successor.valid_from}.",
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(self._url("changelist"))
        else:
            today = timezone.localdate()
            start = max(today, row.valid_from + datetime.timedelta(days=1))
            form = form_class(initial={"valid_from": start, **{name: getattr(row, name) for name in names}})
        return self._page(
            request,
            "admin/codebook/new_version.html",
            f"New version of {row.key_label()}",
            form=form,
            row=row,
            original=row,
        )


PERIOD_COLUMNS = ("valid_from", "valid_to", "in_force_today")


@admin.register(ProcedureCode)
class ProcedureCodeAdmin(CodebookAdmin):
    list_display = (
        "code",
        "description",
        "kind",
        "settings",
        "mue_professional",
        "mue_facility",
        "mue_verified",
        "revenue_code",
        "price",
        *PERIOD_COLUMNS,
    )
    list_filter = (InForceFilter, "kind", "mue_verified", "revenue_code")
    search_fields = ("code", "description")


@admin.register(AddonPrimary)
class AddonPrimaryAdmin(CodebookAdmin):
    list_display = ("addon", "primary", *PERIOD_COLUMNS)
    list_filter = (InForceFilter,)
    search_fields = ("addon", "primary")


@admin.register(PtpPair)
class PtpPairAdmin(CodebookAdmin):
    list_display = ("column1", "column2", "modifier_indicator", *PERIOD_COLUMNS)
    list_filter = (InForceFilter, "modifier_indicator")
    search_fields = ("column1", "column2")


@admin.register(Drug)
class DrugAdmin(CodebookAdmin):
    list_display = (
        "hcpcs",
        "name",
        "billing_unit_amount",
        "billing_unit",
        "category",
        "container",
        "opps_status",
        "ndc_required",
        "price",
        *PERIOD_COLUMNS,
    )
    list_filter = (
        InForceFilter,
        "category",
        "opps_status",
        "container",
        "billing_unit",
        "hormonal",
        "electrolyte",
        "vaccine_kind",
        "ndc_required",
        "unclassified",
    )
    search_fields = ("hcpcs", "name", "synonyms", "ingredient", "ndcs")


@admin.register(Modifier)
class ModifierAdmin(CodebookAdmin):
    list_display = ("code", "description", *PERIOD_COLUMNS)
    list_filter = (InForceFilter,)
    search_fields = ("code", "description")


@admin.register(Icd10Code)
class Icd10CodeAdmin(CodebookAdmin):
    list_display = ("code", "description", *PERIOD_COLUMNS)
    list_filter = (InForceFilter,)
    search_fields = ("code", "description")


@admin.register(Payer)
class PayerAdmin(CodebookAdmin):
    list_display = (
        "key",
        "name",
        "is_default",
        "distinct_site_modifier",
        "separate_encounter_modifier",
        "waste_modifiers_required",
        "repeat_infusion_method",
        "ndc_required",
        *PERIOD_COLUMNS,
    )
    list_filter = (InForceFilter, "is_default", "repeat_infusion_method", "waste_modifiers_required", "ndc_required")
    search_fields = ("key", "name")


class PayerKeyFilter(admin.SimpleListFilter):
    title = "payer"
    parameter_name = "payer_key"

    def lookups(self, request, model_admin):
        keys = Payer.objects.order_by("key").values_list("key", flat=True).distinct()
        return [(key, key) for key in keys]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(payer__key=self.value())
        return queryset


@admin.register(PayerNote)
class PayerNoteAdmin(CodebookAdmin):
    list_display = ("payer_key", "code", "short_note", *PERIOD_COLUMNS)
    list_filter = (InForceFilter, PayerKeyFilter)
    list_select_related = ("payer",)
    search_fields = ("payer__key", "code", "note")

    @admin.display(description="payer", ordering="payer__key")
    def payer_key(self, obj: PayerNote) -> str:
        return obj.payer.key

    @admin.display(description="note")
    def short_note(self, obj: PayerNote) -> str:
        return obj.note if len(obj.note) <= 90 else obj.note[:89] + "…"

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "payer":
            # offer the payer versions in force today or later (a note belongs to the payer key)
            today = timezone.localdate()
            kwargs["queryset"] = Payer.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=today))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(FacilityPlaceOfService)
class FacilityPlaceOfServiceAdmin(CodebookAdmin):
    list_display = ("place_of_service", "description", *PERIOD_COLUMNS)
    list_filter = (InForceFilter,)
    search_fields = ("place_of_service", "description")


@admin.register(RevenueCode)
class RevenueCodeAdmin(CodebookAdmin):
    list_display = ("key", "revenue_code", *PERIOD_COLUMNS)
    list_filter = (InForceFilter, "key")
    search_fields = ("key", "revenue_code")
