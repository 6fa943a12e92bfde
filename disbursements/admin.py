"""Django admin for disbursements: read-only. Money tables change only through the
services (with their maker-checker and audit trail), never by editing rows here."""

from django.contrib import admin

from accounts.services.audit import audit_record
from core.admin import ReadOnlyAdmin
from disbursements.models import (
    Batch,
    BatchExport,
    BatchStep,
    Entitlement,
    PaymentLine,
    ProgrammeSafeguards,
    PublicityRequirement,
    Voucher,
)


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


# --------------------------------------------------------------------------- public trust settings
# A programme's 公示 requirement and fraud/appeal settings decide whether a batch may be
# submitted and whose lines are held: every change through admin is audited.


class AuditedAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        old = {}
        if change:
            before = type(obj).objects.get(pk=obj.pk)
            old = {f: str(getattr(before, f)) for f in form.changed_data}
        super().save_model(request, obj, form, change)
        audit_record(
            user=request.user,
            action=f"{obj._meta.model_name}_{'update' if change else 'create'}",
            obj=obj,
            changes={f: [old.get(f), str(getattr(obj, f))] for f in form.changed_data},
        )

    def delete_model(self, request, obj):
        audit_record(user=request.user, action=f"{obj._meta.model_name}_delete", obj=obj, changes={"deleted": str(obj)})
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit_record(
                user=request.user, action=f"{obj._meta.model_name}_delete", obj=obj, changes={"deleted": str(obj)}
            )
        super().delete_queryset(request, queryset)


@admin.register(PublicityRequirement)
class PublicityRequirementAdmin(AuditedAdmin):
    list_display = ["programme", "region"]
    list_filter = ["programme"]
    autocomplete_fields = ["region"]


@admin.register(ProgrammeSafeguards)
class ProgrammeSafeguardsAdmin(AuditedAdmin):
    list_display = [
        "programme",
        "notice_days",
        "shared_account_min",
        "shared_phone_min",
        "forbid_stacking",
        "appeal_days",
    ]
