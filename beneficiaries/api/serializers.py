"""API shapes. Lists read `.values()` rows (plain dicts, no model instances) for speed;
personal numbers appear only masked."""

from rest_framework import serializers

from beneficiaries.choices import Category, Ownership, PayoutChoice
from beneficiaries.models import REGISTRATION_STAY_FIELDS
from programs.models import Programme


class EmployerRowSerializer(serializers.Serializer):
    """One employer, from a `.values(*EMPLOYER_VALUES)` row or an instance."""

    id = serializers.IntegerField(read_only=True)
    credit_code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    ownership = serializers.CharField(read_only=True)
    district = serializers.CharField(source="district_id", read_only=True)
    district_name = serializers.CharField(source="district__name", read_only=True)
    industry = serializers.CharField(read_only=True)
    address = serializers.CharField(read_only=True)
    contact_name = serializers.CharField(read_only=True)
    contact_phone = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    return_reason = serializers.CharField(read_only=True)
    verified_at = serializers.DateTimeField(read_only=True, allow_null=True)  # null until verified
    created_at = serializers.DateTimeField(read_only=True)


EMPLOYER_VALUES = (
    "id",
    "credit_code",
    "name",
    "ownership",
    "district_id",
    "district__name",
    "industry",
    "address",
    "contact_name",
    "contact_phone",
    "status",
    "return_reason",
    "verified_at",
    "created_at",
)


class EmployerCreateSerializer(serializers.Serializer):
    credit_code = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=200)
    ownership = serializers.ChoiceField(choices=Ownership.choices)
    district = serializers.CharField(max_length=6)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    contact_name = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    address = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EmployerUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    ownership = serializers.ChoiceField(choices=Ownership.choices, required=False)
    district = serializers.CharField(max_length=6, required=False)
    industry = serializers.CharField(max_length=100, required=False, allow_blank=True)
    contact_name = serializers.CharField(max_length=50, required=False, allow_blank=True)
    contact_phone = serializers.CharField(max_length=20, required=False, allow_blank=True)
    address = serializers.CharField(max_length=200, required=False, allow_blank=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class WorkerRowSerializer(serializers.Serializer):
    """One registration (a stay-behind worker), from a `.values(*WORKER_VALUES)` row."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(source="person__name", read_only=True)
    id_masked = serializers.CharField(source="person__id_masked", read_only=True)
    sex = serializers.CharField(source="person__sex", read_only=True)
    birth_date = serializers.DateField(source="person__birth_date", read_only=True, allow_null=True)
    hukou_code = serializers.CharField(source="person__hukou_code", read_only=True)
    programme = serializers.CharField(source="programme__code", read_only=True)
    employer = serializers.IntegerField(source="employer_id", read_only=True)
    employer_name = serializers.CharField(source="employer__name", read_only=True)
    district = serializers.CharField(source="district_id", read_only=True)
    district_name = serializers.CharField(source="district__name", read_only=True)
    start_date = serializers.DateField(read_only=True)
    end_date = serializers.DateField(read_only=True)
    duty_days = serializers.IntegerField(read_only=True)
    seniority_years = serializers.IntegerField(read_only=True)
    category = serializers.CharField(read_only=True)
    bank_name = serializers.CharField(read_only=True)
    account_masked = serializers.CharField(read_only=True)
    payout_choice = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    status_note = serializers.CharField(read_only=True)
    source = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


WORKER_VALUES = (
    "id",
    "person__name",
    "person__id_masked",
    "person__sex",
    "person__birth_date",
    "person__hukou_code",
    "programme__code",
    "employer_id",
    "employer__name",
    "district_id",
    "district__name",
    *REGISTRATION_STAY_FIELDS,
    "account_masked",
    "payout_choice",
    "status",
    "status_note",
    "source",
    "created_at",
)


class WorkerCreateSerializer(serializers.Serializer):
    programme = serializers.SlugRelatedField(slug_field="code", queryset=Programme.objects.all())
    employer = serializers.IntegerField()
    id_number = serializers.CharField(max_length=30)
    name = serializers.CharField(max_length=50)
    phone = serializers.CharField(max_length=20, required=False, allow_blank=True, default="")
    start_date = serializers.DateField()
    end_date = serializers.DateField()
    duty_days = serializers.IntegerField(min_value=0, max_value=366, default=0)
    seniority_years = serializers.IntegerField(min_value=0, max_value=60, default=0)
    category = serializers.ChoiceField(choices=Category.choices, default=Category.MIGRANT)
    bank_name = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    account = serializers.CharField(max_length=40, required=False, allow_blank=True, default="", write_only=True)
    payout_choice = serializers.ChoiceField(choices=PayoutChoice.choices, required=False, allow_blank=True, default="")


class WorkerUpdateSerializer(serializers.Serializer):
    start_date = serializers.DateField(required=False)
    end_date = serializers.DateField(required=False)
    duty_days = serializers.IntegerField(min_value=0, max_value=366, required=False)
    seniority_years = serializers.IntegerField(min_value=0, max_value=60, required=False)
    category = serializers.ChoiceField(choices=Category.choices, required=False)
    bank_name = serializers.CharField(max_length=100, required=False, allow_blank=True)
    account = serializers.CharField(max_length=40, required=False, allow_blank=True, write_only=True)
    payout_choice = serializers.ChoiceField(choices=PayoutChoice.choices, required=False, allow_blank=True)


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=500)
