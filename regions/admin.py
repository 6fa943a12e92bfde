from django.contrib import admin

from core.resources import ImportExportAdminMixin
from regions.models import DivisionCode, Region
from regions.resources import RegionResource


@admin.register(Region)
class RegionAdmin(ImportExportAdminMixin, admin.ModelAdmin):
    resource_classes = [RegionResource]
    list_display = ["code", "name", "level", "kind", "parent", "direct_report"]
    list_filter = ["level", "kind", "direct_report"]
    search_fields = ["code", "name"]


@admin.register(DivisionCode)
class DivisionCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "province", "level", "active", "current_code"]
    list_filter = ["active", "level"]
    search_fields = ["code", "name"]
