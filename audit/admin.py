"""The audit trail in the Django admin: read-only (no add, change or delete), AUD-02."""

from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("sequence", "timestamp", "username", "action", "outcome", "object_type", "object_id", "patient_ref")
    list_filter = ("outcome", "action")
    search_fields = ("=username", "=patient_ref", "^action", "=object_id", "=request_id")
    date_hierarchy = "timestamp"
    ordering = ("-sequence",)
    list_select_related = False
    show_full_result_count = False
    actions = None

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
