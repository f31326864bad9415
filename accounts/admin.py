"""Admin for centers and memberships. Users are never deleted from the admin (deactivate them)."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts.access import recently_authenticated
from accounts.models import Center, LockoutRelease, Membership
from accounts.services import audit, membership_revoke, sync_user_staff


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


class ReauthAdminMixin:
    """Role changes need the password again (SEC-10): add, change and delete views ask for it first."""

    def _reauth(self, request):
        if recently_authenticated(request):
            return None
        return redirect(f"{reverse('accounts:reauth')}?{urlencode({'next': request.get_full_path()})}")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._reauth(request) or super().changeform_view(request, object_id, form_url, extra_context)

    def delete_view(self, request, object_id, extra_context=None):
        return self._reauth(request) or super().delete_view(request, object_id, extra_context)


@admin.register(Membership)
class MembershipAdmin(ReauthAdminMixin, admin.ModelAdmin):
    list_display = ["user", "center", "role", "created_at"]
    list_filter = ["role", "center"]
    search_fields = ["user__username", "center__name"]
    autocomplete_fields = ["user", "center"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sync_user_staff(obj.user)
        audit(
            action="membership.change" if change else "membership.grant",
            actor=request.user,
            obj=obj,
            center_id=obj.center_id,
            detail={"user_id": obj.user_id, "role": obj.role},
        )

    def delete_model(self, request, obj):
        membership_revoke(actor=request.user, user=obj.user, center=obj.center, role=obj.role)


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
class AccountsUserAdmin(ReauthAdminMixin, UserAdmin):
    inlines = [MembershipInline]
    list_display = ["username", "first_name", "last_name", "is_active", "is_staff", "last_login"]
    actions = ["deactivate"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        sync_user_staff(form.instance)
        if any(formset.has_changed() for formset in formsets):
            audit(
                action="membership.change", actor=request.user, obj=form.instance, detail={"user_id": form.instance.pk}
            )

    @admin.action(description="Deactivate the selected users")
    def deactivate(self, request, queryset):
        from accounts.services import AccountError, user_deactivate

        for user in queryset:
            try:
                user_deactivate(actor=request.user, user=user)
            except AccountError as exc:
                self.message_user(request, str(exc), level="error")
