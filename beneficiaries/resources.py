"""Employers and registrations as spreadsheets.

`EmployerResource` serves the admin's import and export and the employer list's export;
an import writes through beneficiaries.services (who may, the credit code's check, the
move of a district with its staff, and the audit row with old and new values).
`RegistrationResource` is the registration list's export only: workers are registered
through the form or the bulk import's fast path, never here. It shows ID numbers and
phones masked, exactly as the list shows them.
"""

from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets

from beneficiaries.choices import Category, EmployerStatus, Ownership, RegistrationStatus, Source
from beneficiaries.models import Employer, Registration
from beneficiaries.services import employers as employer_services
from core.resources import ChoiceWidget, IsoDateTimeWidget, IsoDateWidget, LookupWidget, ServiceResource
from regions.models import Region


class EmployerResource(ServiceResource):
    """An employer a row, keyed by its credit code. A new one is registered as an agent's
    would be (pending, for its district officer to verify); status and dates are
    exported for reading and never imported (verification is the officer's act)."""

    credit_code = fields.Field(attribute="credit_code", column_name=_("统一社会信用代码"), widget=widgets.CharWidget())
    name = fields.Field(attribute="name", column_name=_("单位名称"), widget=widgets.CharWidget())
    ownership = fields.Field(attribute="ownership", column_name=_("经济类型"), widget=ChoiceWidget(Ownership))
    district = fields.Field(attribute="district", column_name=_("区县代码"), widget=LookupWidget(Region, "code"))
    district_name = fields.Field(attribute="district__name", column_name=_("区县"), readonly=True)
    industry = fields.Field(attribute="industry", column_name=_("行业"), widget=widgets.CharWidget())
    contact_name = fields.Field(attribute="contact_name", column_name=_("联系人"), widget=widgets.CharWidget())
    contact_phone = fields.Field(attribute="contact_phone", column_name=_("联系电话"), widget=widgets.CharWidget())
    address = fields.Field(attribute="address", column_name=_("地址"), widget=widgets.CharWidget())
    status = fields.Field(attribute="status", column_name=_("状态"), widget=ChoiceWidget(EmployerStatus), readonly=True)
    verified_at = fields.Field(
        attribute="verified_at", column_name=_("核实时间"), widget=IsoDateTimeWidget(), readonly=True
    )
    created_at = fields.Field(
        attribute="created_at", column_name=_("登记时间"), widget=IsoDateTimeWidget(), readonly=True
    )

    class Meta:
        model = Employer
        import_id_fields = ("credit_code",)
        fields = (
            "credit_code",
            "name",
            "ownership",
            "district",
            "district_name",
            *("industry", "contact_name", "contact_phone", "address", "status", "verified_at", "created_at"),
        )
        skip_unchanged = True
        report_skipped = True

    def service_save(self, instance, *, is_create, acting_user):
        if is_create:
            return employer_services.employer_register(
                acting_user=acting_user,
                credit_code=instance.credit_code,
                **{f: getattr(instance, f) for f in employer_services.EMPLOYER_EDITABLE},
            )
        stored = Employer.objects.get(pk=instance.pk)
        changed = {
            f: getattr(instance, f)
            for f in employer_services.EMPLOYER_EDITABLE
            if getattr(instance, f) != getattr(stored, f)
        }
        return employer_services.employer_update(employer=stored, acting_user=acting_user, **changed)


class RegistrationResource(resources.ModelResource):
    name = fields.Field(attribute="person__name", column_name=_("姓名"), widget=widgets.CharWidget())
    id_masked = fields.Field(attribute="person__id_masked", column_name=_("身份证号"), widget=widgets.CharWidget())
    phone_masked = fields.Field(attribute="person__phone_masked", column_name=_("手机号"), widget=widgets.CharWidget())
    employer = fields.Field(attribute="employer__name", column_name=_("用人单位"), widget=widgets.CharWidget())
    credit_code = fields.Field(
        attribute="employer__credit_code", column_name=_("统一社会信用代码"), widget=widgets.CharWidget()
    )
    district = fields.Field(attribute="district__name", column_name=_("区县"), widget=widgets.CharWidget())
    programme = fields.Field(attribute="programme__name", column_name=_("项目"), widget=widgets.CharWidget())
    category = fields.Field(attribute="category", column_name=_("类别"), widget=ChoiceWidget(Category))
    start_date = fields.Field(attribute="start_date", column_name=_("留岗开始"), widget=IsoDateWidget())
    end_date = fields.Field(attribute="end_date", column_name=_("留岗结束"), widget=IsoDateWidget())
    duty_days = fields.Field(attribute="duty_days", column_name=_("春节在岗天数"), widget=widgets.IntegerWidget())
    seniority_years = fields.Field(
        attribute="seniority_years", column_name=_("工龄（年）"), widget=widgets.IntegerWidget()
    )
    status = fields.Field(attribute="status", column_name=_("状态"), widget=ChoiceWidget(RegistrationStatus))
    source = fields.Field(attribute="source", column_name=_("来源"), widget=ChoiceWidget(Source))
    created_at = fields.Field(attribute="created_at", column_name=_("登记时间"), widget=IsoDateTimeWidget())

    class Meta:
        model = Registration
        fields = (
            *("name", "id_masked", "phone_masked", "employer", "credit_code", "district", "programme", "category"),
            *("start_date", "end_date", "duty_days", "seniority_years", "status", "source", "created_at"),
        )

    def export(self, queryset=None, **kwargs):
        # Only what the columns show: never the person's ciphers, even in memory.
        queryset = queryset.select_related(None).select_related("person", "employer", "district", "programme")
        return super().export(queryset.only(*EXPORT_ROW_FIELDS), **kwargs)


EXPORT_ROW_FIELDS = (
    *("id", "category", "start_date", "end_date", "duty_days", "seniority_years", "status", "source", "created_at"),
    *("person__name", "person__id_masked", "person__phone_masked", "employer__name", "employer__credit_code"),
    *("district__name", "programme__name"),
)
