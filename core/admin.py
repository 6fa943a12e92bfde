"""What every app's Django admin shares."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the admin may read but never add, change or delete: money and its rules change
    only through the audited services (the portal's pages, or an import that calls them)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
