"""Read-only admin views of the charge domain: every change goes through the services (audit, locking)."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from charges.models import Administration, ChargeLine, ChargeSet, ChargeSetTransition, Derivation, Encounter, Pause


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):  # noqa: ARG002
        return False

    def has_change_permission(self, request, obj=None):  # noqa: ARG002
        return False

    def has_delete_permission(self, request, obj=None):  # noqa: ARG002
        return False


class ReadOnlyHistoryAdmin(SimpleHistoryAdmin, ReadOnlyAdmin):
    pass


class PauseInline(admin.TabularInline):
    model = Pause
    extra = 0
    can_delete = False
    readonly_fields = ("start_at", "stop_at")


@admin.register(Encounter)
class EncounterAdmin(ReadOnlyHistoryAdmin):
    list_display = ("pk", "center", "service_date", "setting", "payer", "status", "documentation_version")
    list_filter = ("center", "status", "setting")
    date_hierarchy = "service_date"


@admin.register(Administration)
class AdministrationAdmin(ReadOnlyHistoryAdmin):
    list_display = ("pk", "encounter", "drug", "hcpcs", "route", "site", "start_at", "stop_at", "version")
    list_select_related = ("encounter",)
    inlines = [PauseInline]


class ChargeLineInline(admin.TabularInline):
    model = ChargeLine
    extra = 0
    can_delete = False
    fields = ("position", "code", "units", "modifiers", "service_date", "amount", "kind", "origin", "transaction_type")
    readonly_fields = fields


@admin.register(ChargeSet)
class ChargeSetAdmin(ReadOnlyHistoryAdmin):
    list_display = ("pk", "encounter", "group_key", "status", "version", "corrected")
    list_filter = ("status",)
    inlines = [ChargeLineInline]


@admin.register(Derivation)
class DerivationAdmin(ReadOnlyAdmin):
    list_display = (
        "pk",
        "encounter",
        "status",
        "documentation_version",
        "engine_version",
        "codebook_version",
        "created_at",
    )
    list_filter = ("status",)


@admin.register(ChargeSetTransition)
class ChargeSetTransitionAdmin(ReadOnlyAdmin):
    list_display = ("pk", "charge_set", "from_status", "to_status", "actor", "created_at")
