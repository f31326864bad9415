"""Read-only admin of the day close records: they are evidence, never edited by hand."""

from __future__ import annotations

from django.contrib import admin

from reports.models import BatchFile, DayClose, ReSend


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(DayClose)
class DayCloseAdmin(ReadOnlyAdmin):
    list_display = ("closed_at", "center", "service_date", "outcome", "source", "batch", "lines", "closed_by")
    list_filter = ("outcome", "source", "center")


@admin.register(BatchFile)
class BatchFileAdmin(ReadOnlyAdmin):
    list_display = ("batch", "kind", "size", "sha256", "created_at", "created_by")
    list_filter = ("kind",)


@admin.register(ReSend)
class ReSendAdmin(ReadOnlyAdmin):
    list_display = ("sent_at", "batch", "sent_by", "checksums_ok", "reason")
