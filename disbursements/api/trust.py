"""/api/v1/signals/ and /api/v1/appeals/ (and /api/v1/notices/, read-only).

Lists and details start from `.for_user(user)`: out of scope is 404. Writes are one
service call each; domain errors become 400/403/409 through the project's handler.
These tables are small (signals and appeals, not workers), so the lists use page
numbers with a count.
"""

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.choices import Role
from accounts.scopes import is_staff_user
from accounts.services.audit import audit_record
from beneficiaries.models import Registration
from core.errors import DomainError
from disbursements.choices import AppealStatus, Severity, SignalKind, SignalStatus
from disbursements.models import Appeal, FraudSignal, Notice, PaymentLine
from disbursements.services import appeals as appeal_svc
from disbursements.services import fraud as fraud_svc


class Pages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def paged_schema(serializer):
    """The response schema of `_paged`: a page-number envelope around the rows (an APIView's
    own `many=True` would promise a bare list)."""
    return inline_serializer(
        name=f"Paged{serializer.__name__.removesuffix('Serializer')}List",
        fields={
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": serializer(many=True),
        },
    )


def _paged(view, request, qs, serializer):
    pager = Pages()
    page = pager.paginate_queryset(qs, request, view=view)
    return pager.get_paginated_response(serializer(page, many=True).data)


def _staff_only(user):
    if not is_staff_user(user):
        from django.http import Http404

        raise Http404


# --------------------------------------------------------------------------- signals


class SignalSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="programme.code")
    district_name = serializers.CharField(source="district.name")
    kind_label = serializers.CharField(source="get_kind_display")
    holds = serializers.BooleanField()

    class Meta:
        model = FraudSignal
        fields = (
            "id",
            "programme",
            "district",
            "district_name",
            "kind",
            "kind_label",
            "severity",
            "status",
            "summary",
            "detail",
            "member_count",
            "employer",
            "holds",
            "note",
            "decided_at",
            "first_seen",
            "last_seen",
        )


class NoteIn(serializers.Serializer):
    note = serializers.CharField(max_length=2000, allow_blank=True)


def _signals(request):
    _staff_only(request.user)
    return FraudSignal.objects.for_user(request.user).select_related("programme", "district")


class SignalList(APIView):
    """Fraud signals in scope. Filters: programme, district, kind, severity, status."""

    @extend_schema(operation_id="v1_signals_list", responses=paged_schema(SignalSerializer))
    def get(self, request):
        qs = _signals(request)
        params = request.query_params
        if params.get("programme"):
            qs = qs.filter(programme__code=params["programme"])
        if params.get("district"):
            qs = qs.filter(district_id=params["district"])
        if params.get("kind") in SignalKind.values:
            qs = qs.filter(kind=params["kind"])
        if params.get("severity") in Severity.values:
            qs = qs.filter(severity=params["severity"])
        if params.get("status") in SignalStatus.values:
            qs = qs.filter(status=params["status"])
        return _paged(self, request, qs.order_by("-last_seen", "-id"), SignalSerializer)


class SignalDetail(APIView):
    @extend_schema(responses=SignalSerializer)
    def get(self, request, pk: int):
        signal = get_object_or_404(_signals(request), pk=pk)
        members = list(
            Registration.objects.for_user(request.user)
            .filter(pk__in=signal.members.values("registration_id"))
            .values("id", "person__name", "person__id_masked", "employer__name", "district_id", "account_masked")[:500]
        )
        audit_record(user=request.user, action="signal_view", obj=signal, changes={"registrations": len(members)})
        return Response({**SignalSerializer(signal).data, "registrations": members})


class SignalDecide(APIView):
    """POST /signals/{id}/clear/ or /confirm/ with {"note": "…"} (a note is required)."""

    decision = "clear"

    @extend_schema(request=NoteIn, responses=SignalSerializer)
    def post(self, request, pk: int):
        signal = get_object_or_404(_signals(request), pk=pk)
        body = NoteIn(data=request.data)
        body.is_valid(raise_exception=True)
        action = fraud_svc.signal_clear if self.decision == "clear" else fraud_svc.signal_confirm
        signal = action(signal=signal, acting_user=request.user, note=body.validated_data["note"])
        return Response(SignalSerializer(signal).data)


# --------------------------------------------------------------------------- appeals


class AppealSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="programme.code")
    district_name = serializers.CharField(source="district.name")
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Appeal
        fields = (
            "id",
            "programme",
            "district",
            "district_name",
            "employer",
            "registration",
            "line",
            "kind",
            "text",
            "filed_by_worker",
            "status",
            "due_on",
            "overdue",
            "outcome",
            "resolution",
            "fix_reference",
            "resolved_at",
            "created_at",
        )

    def get_overdue(self, obj) -> bool:
        return obj.is_overdue()


class AppealIn(serializers.Serializer):
    kind = serializers.CharField()
    text = serializers.CharField(max_length=5000)
    registration = serializers.IntegerField(required=False)
    line = serializers.IntegerField(required=False)


class ResolveIn(serializers.Serializer):
    outcome = serializers.CharField()
    resolution = serializers.CharField(max_length=2000, allow_blank=True)


def _appeals(request):
    user = request.user
    if not (is_staff_user(user) or user.role == Role.EMPLOYER):
        from django.http import Http404

        raise Http404
    return Appeal.objects.for_user(user).select_related("programme", "district")


class AppealList(APIView):
    """Appeals in scope (filters: status, overdue=1, district); POST files one (employer agents)."""

    @extend_schema(operation_id="v1_appeals_list", responses=paged_schema(AppealSerializer))
    def get(self, request):
        qs = _appeals(request)
        params = request.query_params
        if params.get("status") in AppealStatus.values:
            qs = qs.filter(status=params["status"])
        if params.get("overdue") == "1":
            qs = appeal_svc.appeals_overdue(qs)
        if params.get("district"):
            qs = qs.filter(district_id=params["district"])
        return _paged(self, request, qs.order_by("status", "due_on", "id"), AppealSerializer)

    @extend_schema(request=AppealIn, responses={201: AppealSerializer})
    def post(self, request):
        body = AppealIn(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        user = request.user
        registration = line = None
        if data.get("line"):
            line = get_object_or_404(
                PaymentLine.objects.filter(entitlement__registration__in=Registration.objects.for_user(user)),
                pk=data["line"],
            )
        elif data.get("registration"):
            registration = get_object_or_404(Registration.objects.for_user(user), pk=data["registration"])
        else:
            raise DomainError("请指明申诉涉及的登记（registration）或发放明细（line）。")
        appeal = appeal_svc.appeal_file_employer(
            acting_user=user, kind=data["kind"], text=data["text"], registration=registration, line=line
        )
        return Response(AppealSerializer(appeal).data, status=status.HTTP_201_CREATED)


class AppealDetail(APIView):
    @extend_schema(responses=AppealSerializer)
    def get(self, request, pk: int):
        appeal = get_object_or_404(_appeals(request), pk=pk)
        audit_record(user=request.user, action="appeal_view", obj=appeal)
        return Response(AppealSerializer(appeal).data)


class AppealResolve(APIView):
    @extend_schema(request=ResolveIn, responses=AppealSerializer)
    def post(self, request, pk: int):
        appeal = get_object_or_404(_appeals(request), pk=pk)
        body = ResolveIn(data=request.data)
        body.is_valid(raise_exception=True)
        appeal = appeal_svc.appeal_resolve(appeal=appeal, acting_user=request.user, **body.validated_data)
        return Response(AppealSerializer(appeal).data)


# --------------------------------------------------------------------------- notices


class NoticeSerializer(serializers.ModelSerializer):
    programme = serializers.CharField(source="programme.code")
    district_name = serializers.CharField(source="district.name")
    is_open = serializers.SerializerMethodField()
    open_objections = serializers.SerializerMethodField()

    class Meta:
        model = Notice
        fields = (
            "id",
            "programme",
            "district",
            "district_name",
            "batch",
            "title",
            "starts_on",
            "ends_on",
            "days",
            "status",
            "is_open",
            "line_count",
            "total",
            "open_objections",
        )

    def get_is_open(self, obj) -> bool:
        return obj.is_open()

    def get_open_objections(self, obj) -> int:
        return getattr(obj, "open_objections", None) or obj.objections.filter(status="open").count()


class NoticeList(APIView):
    """Notices in scope (the officer's view; the public reads /gongshi/)."""

    @extend_schema(operation_id="v1_notices_list", responses=paged_schema(NoticeSerializer))
    def get(self, request):
        _staff_only(request.user)
        qs = (
            Notice.objects.for_user(request.user)
            .select_related("programme", "district")
            .annotate(open_objections=Count("objections", filter=Q(objections__status="open")))
        )
        return _paged(self, request, qs.order_by("-created_at", "-id"), NoticeSerializer)
