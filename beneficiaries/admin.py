"""Admin for reference upkeep. Personal numbers appear masked only; ciphertexts and
blind indexes are never shown or edited here (they are written by the services).

Every field that decides eligibility or money (a person's hukou, a registration's
category, dates and duty days, an employer's ownership, district and verification) is
changed only through the services of beneficiaries.services, which check who may do it
and write the audit trail with old and new values: the change forms below call them
(`save_model`), and so does the employers' spreadsheet import; fields no service
corrects are read-only, and nothing is deleted here.
"""

from django.contrib import admin, messages

from beneficiaries.models import REGISTRATION_STAY_FIELDS, Employer, Person, Registration
from beneficiaries.resources import EmployerResource
from beneficiaries.services import employers as employer_services
from beneficiaries.services import persons as person_services
from beneficiaries.services import registrations as registration_services
from core.errors import DomainError
from core.resources import ImportExportAdminMixin


class ServiceAdmin(admin.ModelAdmin):
    """A change form whose save calls a service with the changed fields only."""

    service_fields: tuple[str, ...] = ()

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # rows others refer to (payments, audit) are never deleted by hand

    def save_model(self, request, obj, form, change):
        changed = {f: form.cleaned_data[f] for f in form.changed_data if f in self.service_fields}
        if not changed:
            return
        try:
            self.call_service(request, obj, changed)
        except DomainError as exc:
            # The row is left as it was; the officer sees why, in Chinese.
            messages.error(request, f"未保存：{exc.message}")

    def call_service(self, request, obj, changed: dict) -> None:
        raise NotImplementedError


@admin.register(Employer)
class EmployerAdmin(ImportExportAdminMixin, ServiceAdmin):
    # An import registers new employers and corrects existing ones through the same
    # services (beneficiaries.resources.EmployerResource).
    resource_classes = [EmployerResource]
    list_display = ["name", "credit_code", "ownership", "district", "status", "verified_at"]
    list_filter = ["status", "ownership"]
    search_fields = ["name", "credit_code"]
    autocomplete_fields = ["district"]
    filter_horizontal = ["agents"]
    # Verification decides whether its staff count: only the district officer's service does it.
    readonly_fields = ["credit_code", "status", "return_reason", "verified_by", "verified_at", "created_at"]
    service_fields = employer_services.EMPLOYER_EDITABLE

    # `agents` (who may act for the employer) is not money: saved as plain upkeep by
    # save_related.

    def call_service(self, request, obj, changed):
        original = Employer.objects.get(pk=obj.pk)
        employer_services.employer_update(employer=original, acting_user=request.user, **changed)


@admin.register(Person)
class PersonAdmin(ServiceAdmin):
    list_display = ["name", "id_masked", "sex", "birth_date", "hukou_code"]
    search_fields = ["name", "id_masked"]
    fields = ["name", "id_masked", "sex", "birth_date", "hukou_code_raw", "hukou_code", "phone_masked", "created_at"]
    readonly_fields = ["name", "id_masked", "sex", "birth_date", "hukou_code_raw", "phone_masked", "created_at"]
    # The phone is stored encrypted (phone_masked is what admin may show): it is corrected
    # through the registration pages' person_correct form, not here.
    service_fields = ("hukou_code",)

    def call_service(self, request, obj, changed):
        original = Person.objects.get(pk=obj.pk)
        person_services.person_correct(person=original, acting_user=request.user, comment="管理后台更正", **changed)


@admin.register(Registration)
class RegistrationAdmin(ServiceAdmin):
    list_display = ["id", "person", "employer", "programme", "district", "status", "source", "created_at"]
    list_filter = ["status", "source", "category", "programme"]
    search_fields = ["person__name", "employer__name"]
    list_select_related = ["person", "employer", "programme", "district"]
    fields = [
        "person",
        "employer",
        "programme",
        "district",
        *REGISTRATION_STAY_FIELDS,
        "account_masked",
        "status",
        "status_note",
        "source",
        "created_at",
        "updated_at",
    ]
    readonly_fields = [
        "person",
        "employer",
        "programme",
        "district",
        "account_masked",
        "status",
        "status_note",
        "source",
        "created_at",
        "updated_at",
    ]
    service_fields = REGISTRATION_STAY_FIELDS

    def call_service(self, request, obj, changed):
        original = Registration.objects.get(pk=obj.pk)
        registration_services.registration_update(registration=original, acting_user=request.user, **changed)
