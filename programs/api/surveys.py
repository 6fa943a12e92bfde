"""/api/v1/surveys/: survey reports (摸排) in the user's scope, and their review chain.

    GET   /api/v1/surveys/?programme=CODE&region=CODE&status=…   cursor-paginated rows
    POST  /api/v1/surveys/                  {programme, district?, as_of, figures…, confirm_jump?} → 201
    GET   /api/v1/surveys/<id>/
    PATCH /api/v1/surveys/<id>/             figures and/or as_of of a draft or returned report
    POST  /api/v1/surveys/<id>/submit/      {confirm_jump?}   district officer → city
    POST  /api/v1/surveys/<id>/approve/                       city (province for 定州, 辛集)
    POST  /api/v1/surveys/<id>/return/      {reason}
    POST  /api/v1/surveys/<id>/lock/

Adapters only: every read starts from SurveyReport.objects.for_user (out of scope or
missing: 404); every write is one call of programs.surveys.services, which owns the role checks,
the state machine, the validation and the audit trail. Its errors come back as 400
(invalid, with `errors` by field), 409 (wrong state) or, here, 403 (not allowed).
"""

import django_filters
from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.viewsets import GenericViewSet

from programs import selectors
from programs.choices import SurveyStatus
from programs.models import SurveyReport
from programs.surveys.fields import COUNT_FIELDS, DATA_FIELDS, label
from programs.surveys.services import (
    survey_approve,
    survey_create,
    survey_lock,
    survey_return,
    survey_submit,
    survey_update,
)
from regions.models import Region
from regions.selectors import regions_q

# PositiveIntegerField's upper bound in PostgreSQL: a larger count is a typing slip,
# refused here rather than by the database.
MAX_COUNT = 2_147_483_647

SURVEY_VALUES = (
    "id",
    "programme__code",
    "district_id",
    "district__name",
    "district__parent_id",
    "district__parent__name",
    "as_of",
    *DATA_FIELDS,
    "status",
    "return_reason",
    "jump_confirmed",
    "created_by__username",
    "created_at",
    "submitted_by__username",
    "submitted_at",
    "approved_by__username",
    "approved_at",
    "returned_by__username",
    "returned_at",
    "locked_by__username",
    "locked_at",
    "updated_at",
)


def _row_fields() -> dict:
    fields = {
        "id": serializers.IntegerField(),
        "programme": serializers.CharField(source="programme__code"),
        "district": serializers.CharField(source="district_id"),
        "district_name": serializers.CharField(source="district__name"),
        "city": serializers.CharField(source="district__parent_id", allow_null=True),
        "city_name": serializers.CharField(source="district__parent__name", allow_null=True),
        "as_of": serializers.DateField(),
    }
    fields.update({f: serializers.IntegerField(help_text=label(f)) for f in COUNT_FIELDS})
    fields["benefits_amount"] = serializers.DecimalField(
        max_digits=14, decimal_places=2, help_text=label("benefits_amount")
    )
    fields.update(
        {
            "status": serializers.ChoiceField(choices=SurveyStatus.choices),
            "return_reason": serializers.CharField(),
            "jump_confirmed": serializers.BooleanField(),
            "created_at": serializers.DateTimeField(),
        }
    )
    for step in ("created", "submitted", "approved", "returned", "locked"):
        fields[f"{step}_by"] = serializers.CharField(source=f"{step}_by__username", allow_null=True)
        if step != "created":
            fields[f"{step}_at"] = serializers.DateTimeField(allow_null=True)
    fields["updated_at"] = serializers.DateTimeField()
    return fields


# One report, from a `.values(*SURVEY_VALUES)` row (read only; built from the field list
# so that a new count in programs.surveys.fields shows up here too).
SurveyRowSerializer = type(
    "SurveyRowSerializer",
    (serializers.Serializer,),
    {"__doc__": "一份摸排报表（区县、截止日期、各项数字、审核状态）。", **_row_fields()},
)


def _count_input(field: str) -> serializers.IntegerField:
    # Only the type is checked here; negatives and parts above their whole are refused by
    # programs.surveys.validate.survey_validate with its own messages.
    name = label(field)
    return serializers.IntegerField(
        required=False,
        max_value=MAX_COUNT,
        help_text=name,
        error_messages={
            "invalid": f"“{name}”须为整数，请重新填写。",
            "max_value": f"“{name}”数值过大，请核实。",
            "max_string_length": f"“{name}”数值过大，请核实。",
            "null": f"“{name}”不能为空，没有请填 0。",
        },
    )


SurveyFiguresSerializer = type(
    "SurveyFiguresSerializer",
    (serializers.Serializer,),
    {
        "__doc__": "The figures of a report; a count left out is 0 on create and unchanged on update.",
        **{f: _count_input(f) for f in COUNT_FIELDS},
        "benefits_amount": serializers.DecimalField(
            max_digits=14,
            decimal_places=2,
            required=False,
            help_text=label("benefits_amount"),
            error_messages={
                "invalid": f"“{label('benefits_amount')}”须为金额（元，最多两位小数），请重新填写。",
                "max_decimal_places": f"“{label('benefits_amount')}”最多两位小数。",
                "max_digits": f"“{label('benefits_amount')}”数值过大，请核实。",
                "max_whole_digits": f"“{label('benefits_amount')}”数值过大，请核实。",
                "null": f"“{label('benefits_amount')}”不能为空，没有请填 0。",
            },
        ),
    },
)

AS_OF_ERRORS = {"invalid": "统计截止日期格式不正确，请写成 YYYY-MM-DD。", "required": "请填写统计截止日期。"}
CONFIRM_HELP = "与上期相比变化超过 SURVEY_JUMP_FACTOR 倍时须为 true（错误码 confirm_jump）。"


class SurveyUpdateSerializer(SurveyFiguresSerializer):
    as_of = serializers.DateField(required=False, error_messages=AS_OF_ERRORS)
    confirm_jump = serializers.BooleanField(default=False, help_text=CONFIRM_HELP)


class SurveyCreateSerializer(SurveyFiguresSerializer):
    programme = serializers.CharField(
        max_length=40, help_text="项目代码", error_messages={"required": "请选择项目（项目代码）。"}
    )
    district = serializers.CharField(
        max_length=6, required=False, allow_blank=True, help_text="区县代码（缺省：本人所在区县）"
    )
    as_of = serializers.DateField(error_messages=AS_OF_ERRORS)
    confirm_jump = serializers.BooleanField(default=False, help_text=CONFIRM_HELP)


class SurveySubmitSerializer(serializers.Serializer):
    confirm_jump = serializers.BooleanField(default=False, help_text=CONFIRM_HELP)


class SurveyReturnSerializer(serializers.Serializer):
    # Not required here: an empty reason is refused by programs.surveys.survey_return.
    reason = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="退回原因（必填）",
        error_messages={"max_length": "退回原因不能超过 500 字。"},
    )


class SurveyFilter(django_filters.FilterSet):
    programme = django_filters.CharFilter(field_name="programme__code", label="项目代码")
    region = django_filters.CharFilter(method="filter_region", label="区划代码（含下级）")
    status = django_filters.ChoiceFilter(choices=SurveyStatus.choices, label="状态")

    class Meta:
        model = SurveyReport
        fields = ["programme", "region", "status"]

    def filter_region(self, queryset, name, value):
        path = Region.objects.filter(code=(value or "").strip()).values_list("path", flat=True).first()
        if path is None:
            return queryset.none()
        return queryset.filter(district__path__startswith=path)


def _id(pk) -> int:
    """The id from the URL; anything but a number is simply not found."""
    if not str(pk).isdigit() or len(str(pk)) > 18:
        raise Http404
    return int(pk)


def _field_error(field: str, message: str) -> serializers.ValidationError:
    return serializers.ValidationError({field: [message]})


class SurveyViewSet(GenericViewSet):
    """Survey reports (摸排) in the user's scope: district officers enter and submit their
    district's, the city (the province for districts reporting to it) approves or returns."""

    serializer_class = SurveyRowSerializer
    filterset_class = SurveyFilter
    queryset = SurveyReport.objects.none()  # for the schema's path types; reads go through get_queryset
    lookup_value_converter = "int"  # a non-numeric id matches no route: 404, never a 500

    def get_queryset(self):
        return SurveyReport.objects.for_user(self.request.user)

    def _row(self, pk) -> dict:
        row = self.get_queryset().filter(pk=_id(pk)).values(*SURVEY_VALUES).first()
        if row is None:
            raise Http404
        return row

    def _report(self, pk, *, lock: bool = False) -> SurveyReport:
        """The report for a write: 404 when missing or out of scope."""
        qs = self.get_queryset().select_related("programme", "district")
        if lock:
            qs = qs.select_for_update(of=("self",))
        report = qs.filter(pk=_id(pk)).first()
        if report is None:
            raise Http404
        return report

    def _answer(self, pk, code=status.HTTP_200_OK) -> Response:
        return Response(SurveyRowSerializer(self._row(pk)).data, status=code)

    @extend_schema(summary="摸排报表列表（本人管辖范围内）")
    def list(self, request):
        qs = self.filter_queryset(self.get_queryset()).values(*SURVEY_VALUES)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(SurveyRowSerializer(page, many=True).data)

    @extend_schema(summary="一份摸排报表")
    def retrieve(self, request, pk=None):
        return self._answer(pk)

    @extend_schema(
        request=SurveyCreateSerializer,
        responses={201: SurveyRowSerializer},
        summary="填报一份摸排报表（草稿）",
    )
    def create(self, request):
        body = SurveyCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        user = request.user
        code = data.pop("district", "").strip()
        # The district: one of the user's own regions (by default their own district).
        district = Region.objects.filter(regions_q(user), code=code).first() if code else user.region
        if district is None:
            if code:
                raise _field_error("district", "区县不存在或不在您的管辖范围内。")
            raise _field_error("district", "请填写区县代码。")
        programme = selectors.programmes_for(user).filter(code=data.pop("programme").strip()).first()
        if programme is None:
            raise _field_error("programme", "项目不存在或不在您的管辖范围内。")
        report = survey_create(
            programme=programme,
            district=district,
            as_of=data.pop("as_of"),
            confirm_jump=data.pop("confirm_jump"),
            data=data,
            acting_user=user,
        )
        return self._answer(report.pk, status.HTTP_201_CREATED)

    @extend_schema(
        request=SurveyUpdateSerializer,
        responses=SurveyRowSerializer,
        summary="修改草稿或被退回的报表（未给出的数字不变）",
    )
    def partial_update(self, request, pk=None):
        body = SurveyUpdateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        changes = dict(body.validated_data)
        as_of = changes.pop("as_of", None)
        confirm_jump = changes.pop("confirm_jump")
        # The service takes the whole set of figures: the ones not sent stay as they are.
        # The row is locked before it is read, or two PATCHes of different fields at once
        # would each write back the other's old value.
        with transaction.atomic():
            report = self._report(pk, lock=True)
            data = {f: getattr(report, f) for f in DATA_FIELDS} | changes
            survey_update(report=report, data=data, as_of=as_of, confirm_jump=confirm_jump, acting_user=request.user)
        return self._answer(pk)

    @extend_schema(
        request=SurveyUpdateSerializer,
        responses=SurveyRowSerializer,
        summary="修改草稿或被退回的报表（同 PATCH）",
    )
    def update(self, request, pk=None):
        return self.partial_update(request, pk)

    @extend_schema(request=SurveySubmitSerializer, responses=SurveyRowSerializer, summary="提交市级审核")
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        report = self._report(pk)
        body = SurveySubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        survey_submit(report=report, acting_user=request.user, **body.validated_data)
        return self._answer(pk)

    @extend_schema(request=None, responses=SurveyRowSerializer, summary="审核通过")
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        survey_approve(report=self._report(pk), acting_user=request.user)
        return self._answer(pk)

    @extend_schema(request=SurveyReturnSerializer, responses=SurveyRowSerializer, summary="退回区县修改（须写明原因）")
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        report = self._report(pk)
        body = SurveyReturnSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        survey_return(report=report, acting_user=request.user, **body.validated_data)
        return self._answer(pk)

    @extend_schema(request=None, responses=SurveyRowSerializer, summary="锁定已审核的报表")
    @action(detail=True, methods=["post"])
    def lock(self, request, pk=None):
        survey_lock(report=self._report(pk), acting_user=request.user)
        return self._answer(pk)
