from django.contrib import admin

from regions.models import DivisionCode, Region


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "level", "kind", "parent", "direct_report"]
    list_filter = ["level", "kind", "direct_report"]
    search_fields = ["code", "name"]


@admin.register(DivisionCode)
class DivisionCodeAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "province", "level", "active", "current_code"]
    list_filter = ["active", "level"]
    search_fields = ["code", "name"]
