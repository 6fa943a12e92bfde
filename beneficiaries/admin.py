"""Admin for reference upkeep. Personal numbers appear masked only; ciphertexts and
blind indexes are never shown or edited here (they are written by the services)."""

from django.contrib import admin

from beneficiaries.models import Employer, Person, Registration


@admin.register(Employer)
class EmployerAdmin(admin.ModelAdmin):
    list_display = ["name", "credit_code", "ownership", "district", "status", "verified_at"]
    list_filter = ["status", "ownership"]
    search_fields = ["name", "credit_code"]
    autocomplete_fields = ["district"]
    filter_horizontal = ["agents"]
    readonly_fields = ["credit_code", "verified_by", "verified_at", "created_at"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["name", "id_masked", "sex", "birth_date", "hukou_code"]
    search_fields = ["name", "id_masked"]
    fields = ["name", "id_masked", "sex", "birth_date", "hukou_code_raw", "hukou_code", "phone_masked", "created_at"]
    readonly_fields = ["id_masked", "sex", "birth_date", "hukou_code_raw", "created_at"]

    def has_add_permission(self, request):
        return False  # a person is created from an ID number by beneficiaries.services.person_upsert


@admin.register(Registration)
class RegistrationAdmin(admin.ModelAdmin):
    list_display = ["id", "person", "employer", "programme", "district", "status", "source", "created_at"]
    list_filter = ["status", "source", "category", "programme"]
    search_fields = ["person__name", "employer__name"]
    list_select_related = ["person", "employer", "programme", "district"]
    raw_id_fields = ["import_job"]
    exclude = ["account_cipher"]
    readonly_fields = [
        "person",
        "employer",
        "programme",
        "district",
        "status",
        "account_masked",
        "created_at",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False  # registrations go through beneficiaries.services (conflicts, audit)
