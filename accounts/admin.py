from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import AuditEntry, Job, Notification, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    list_display = ["username", "first_name", "role", "region", "is_active"]
    list_filter = ["role", "is_active"]
    fieldsets = (*BaseUserAdmin.fieldsets, ("角色与范围", {"fields": ["role", "region", "phone", "can_view_pii"]}))
    autocomplete_fields = ["region"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "state", "progress_done", "progress_total", "requested_by", "created_at"]
    list_filter = ["kind", "state"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "user", "action", "object_type", "object_id"]
    list_filter = ["action", "object_type"]

    def has_change_permission(self, request, obj=None):
        return False  # the trail is only ever added to

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """The outbox, read-only: a record of what was sent (the number stays encrypted)."""

    list_display = ["created_at", "event", "channel", "status", "user", "phone_masked", "region", "attempts"]
    list_filter = ["event", "channel", "status"]
    exclude = ["phone_cipher"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
