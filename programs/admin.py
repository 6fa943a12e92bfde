"""Django admin for the superuser: programmes and rules are read here, changed through
the portal's pages (programs.services keeps versions and the audit trail). Both import
and export as spreadsheets; an import writes through the same services (programs.resources)."""

from django.contrib import admin

from core.admin import ReadOnlyAdmin
from core.resources import ImportExportAdminMixin
from programs.models import Programme, SubsidyRule
from programs.resources import ProgrammeResource, SubsidyRuleResource


@admin.register(Programme)
class ProgrammeAdmin(ImportExportAdminMixin, admin.ModelAdmin):
    resource_classes = [ProgrammeResource]
    list_display = ("code", "name", "region", "start_date", "end_date", "budget", "status")
    search_fields = ("code", "name")


@admin.register(SubsidyRule)
class SubsidyRuleAdmin(ImportExportAdminMixin, ReadOnlyAdmin):
    """Read-only forms: a rule with entitlements must never be edited in place. An import
    goes through rule_create / rule_update, which make a new draft version instead."""

    resource_classes = [SubsidyRuleResource]

    list_display = ("rule_key", "version", "name", "programme", "region", "kind", "amount", "channel", "status")
    list_filter = ("programme", "status", "kind", "channel")
    search_fields = ("rule_key", "name")
