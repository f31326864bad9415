"""Admin for centers and memberships. Users are never deleted from the admin (deactivate them)."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from accounts.models import Center, LockoutRelease, Membership


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["center"]


@admin.register(Center)
class CenterAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "setting", "time_zone", "billing_entity", "department_status", "is_active"]
    list_filter = ["setting", "billing_entity", "is_active"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "center", "role", "created_at"]
    list_filter = ["role", "center"]
    search_fields = ["user__username", "center__name"]
    autocomplete_fields = ["user", "center"]


@admin.register(LockoutRelease)
class LockoutReleaseAdmin(admin.ModelAdmin):
    list_display = ["username", "released_at", "released_by"]
    readonly_fields = ["username", "released_at", "released_by"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class AccountsUserAdmin(UserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_staff", "last_login"]
    actions = ["deactivate"]

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Deactivate the selected users")
    def deactivate(self, request, queryset):
        from accounts.services import AccountError, user_deactivate

        for user in queryset:
            try:
                user_deactivate(actor=request.user, user=user)
            except AccountError as exc:
                self.message_user(request, str(exc), level="error")
