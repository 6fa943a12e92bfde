import django_filters

from beneficiaries.choices import Category, EmployerStatus, Ownership, RegistrationStatus
from beneficiaries.models import Employer, Registration
from beneficiaries.selectors import registration_search
from regions.models import Region


def _subtree(queryset, field: str, code: str):
    path = Region.objects.filter(code=(code or "").strip()).values_list("path", flat=True).first()
    if path is None:
        return queryset.none()
    return queryset.filter(**{f"{field}__path__startswith": path})


class EmployerFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=EmployerStatus.choices)
    ownership = django_filters.ChoiceFilter(choices=Ownership.choices)
    region = django_filters.CharFilter(method="filter_region", label="区划代码（含下级）")
    credit_code = django_filters.CharFilter()

    class Meta:
        model = Employer
        fields = ["status", "ownership", "region", "credit_code"]

    def filter_region(self, queryset, name, value):
        return _subtree(queryset, "district", value)


class WorkerFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(method="filter_region", label="留岗地区代码（含下级）")
    employer = django_filters.NumberFilter(field_name="employer_id")
    status = django_filters.ChoiceFilter(choices=RegistrationStatus.choices)
    category = django_filters.ChoiceFilter(choices=Category.choices)
    programme = django_filters.CharFilter(field_name="programme__code")
    q = django_filters.CharFilter(
        method="filter_q",
        label="查找：完整身份证号、完整手机号、姓名（含部分）、银行卡后四位、单位名称或统一社会信用代码",
    )

    class Meta:
        model = Registration
        fields = ["region", "employer", "status", "category", "programme", "q"]

    def filter_region(self, queryset, name, value):
        return _subtree(queryset, "district", value)

    def filter_q(self, queryset, name, value):
        return registration_search(queryset, value[:50])
