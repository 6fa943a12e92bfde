"""Django admin for disbursements: read-only. Money tables change only through the
services (with their maker-checker and audit trail), never by editing rows here."""

from django.contrib import admin

from disbursements.models import Batch, BatchExport, BatchStep, Entitlement, PaymentLine, Voucher


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Entitlement)
class EntitlementAdmin(ReadOnlyAdmin):
    list_display = ["id", "programme", "rule_key", "person", "district", "channel", "amount", "status"]
    list_filter = ["status", "channel", "rule_key"]
    list_select_related = ["programme", "person", "district"]
    search_fields = ["rule_key", "person__id_masked", "person__name"]
    show_full_result_count = False


class BatchStepInline(admin.TabularInline):
    model = BatchStep
    extra = 0
    can_delete = False
    readonly_fields = ["action", "level", "user", "at", "from_status", "to_status", "comment"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = ["number", "programme", "district", "channel", "status", "line_count", "total", "created_at"]
    list_filter = ["status", "channel", "programme"]
    list_select_related = ["programme", "district"]
    search_fields = ["number"]
    inlines = [BatchStepInline]


@admin.register(PaymentLine)
class PaymentLineAdmin(ReadOnlyAdmin):
    list_display = ["batch", "seq", "name", "id_masked", "account_masked", "amount", "status", "failure_reason"]
    list_filter = ["status"]
    list_select_related = ["batch"]
    search_fields = ["batch__number", "name", "id_masked"]
    exclude = ["id_cipher", "account_cipher"]
    show_full_result_count = False


@admin.register(BatchExport)
class BatchExportAdmin(ReadOnlyAdmin):
    list_display = ["batch", "fmt", "encoding", "line_count", "total", "checksum", "exported_by", "exported_at"]
    exclude = ["path"]


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = ["entitlement", "face_value", "expires_on", "status", "redeemed_at", "merchant"]
    list_filter = ["status", "expires_on"]
    exclude = ["code"]
