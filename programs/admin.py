"""Django admin for the superuser: programmes and rules are read here, changed through
the portal's pages (programs.services keeps versions and the audit trail)."""

from django.contrib import admin

from programs.models import Programme, SubsidyRule


@admin.register(Programme)
class ProgrammeAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "region", "start_date", "end_date", "budget", "status")
    search_fields = ("code", "name")


@admin.register(SubsidyRule)
class SubsidyRuleAdmin(admin.ModelAdmin):
    """Read-only: a rule with entitlements must never be edited in place."""

    list_display = ("rule_key", "version", "name", "programme", "region", "kind", "amount", "channel", "status")
    list_filter = ("programme", "status", "kind", "channel")
    search_fields = ("rule_key", "name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
