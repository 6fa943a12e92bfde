"""/api/v1/batches/: list and detail within scope (out of scope is 404), chain actions,
bank file export and bank result import (both as Jobs), reconciliation.

Adapters only: every write is one service call; domain errors become 400/409 through
the project's exception handler.
"""

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from accounts.scopes import is_staff_user
from accounts.selectors import job_as_dict
from core.errors import DomainError
from disbursements.models import Batch, BatchExport, PaymentLine
from disbursements.services import batches as svc
from disbursements.services.payment_files import can_export, export_download_audit
from disbursements.services.reconciliation import reconcile
from disbursements.tasks import build_job_start, export_job_start, results_job_start
from programs.models import Programme
from regions.models import Region

BATCH_VALUES = (
    "id",
    "number",
    "programme__code",
    "district_id",
    "district__name",
    "channel",
    "status",
    "line_count",
    "total",
    "parent_id",
    "content_hash",
    "file_checksum",
    "created_at",
    "submitted_at",
    "reviewed_at",
    "approved_at",
)
LINE_VALUES = (
    "id",
    "seq",
    "name",
    "id_masked",
    "account_masked",
    "bank_name",
    "amount",
    "status",
    "failure_reason",
    "bank_reference",
    "reissue_of_id",
)


class BatchRowSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    programme = serializers.CharField(source="programme__code")
    district = serializers.CharField(source="district_id")
    district_name = serializers.CharField(source="district__name")
    channel = serializers.CharField()
    status = serializers.CharField()
    line_count = serializers.IntegerField()
    total = serializers.DecimalField(max_digits=14, decimal_places=2)
    parent = serializers.IntegerField(source="parent_id", allow_null=True)
    content_hash = serializers.CharField()
    file_checksum = serializers.CharField()
    created_at = serializers.DateTimeField()
    submitted_at = serializers.DateTimeField(allow_null=True)
    reviewed_at = serializers.DateTimeField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)


class LineSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    name = serializers.CharField()
    id_masked = serializers.CharField()
    account_masked = serializers.CharField()
    bank_name = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    status = serializers.CharField()
    failure_reason = serializers.CharField()
    bank_reference = serializers.CharField()
    reissue_of = serializers.IntegerField(source="reissue_of_id", allow_null=True)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


class ExportSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "xlsx"], default="csv")
    encoding = serializers.ChoiceField(choices=["utf-8", "gb18030"], default="utf-8")


class BuildSerializer(serializers.Serializer):
    programme = serializers.SlugField()
    district = serializers.CharField(required=False, allow_blank=True, default="")


def _staff_only(user):
    if not is_staff_user(user):
        raise Http404


class BatchViewSet(GenericViewSet):
    """Batches in the user's scope. Filters: ?programme=CODE&status=…&district=CODE&channel=…"""

    serializer_class = BatchRowSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Batch.objects.none()
        _staff_only(self.request.user)
        qs = Batch.objects.for_user(self.request.user)
        params = self.request.query_params
        if params.get("programme"):
            qs = qs.filter(programme__code=params["programme"])
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        if params.get("district"):
            qs = qs.filter(district_id=params["district"])
        if params.get("channel"):
            qs = qs.filter(channel=params["channel"])
        return qs

    def _batch(self, pk) -> Batch:
        return get_object_or_404(self.get_queryset().select_related("programme", "district"), pk=pk)

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset().values(*BATCH_VALUES))
        return self.get_paginated_response(BatchRowSerializer(page, many=True).data)

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def retrieve(self, request, pk=None):
        batch = self._batch(pk)
        row = Batch.objects.filter(pk=batch.pk).values(*BATCH_VALUES).get()
        data = dict(BatchRowSerializer(row).data)
        data["steps"] = [
            {"action": s.action, "level": s.level, "user": s.user.username, "at": s.at, "comment": s.comment}
            for s in batch.steps.select_related("user")
        ]
        data["actions"] = svc.allowed_actions(request.user, batch)
        data["problems"] = svc.batch_integrity_problems(batch)
        data["by_status"] = {
            k: {"count": v["count"], "total": str(v["total"])} for k, v in svc.batch_totals_by_status(batch).items()
        }
        data["exports"] = [
            {"id": e.id, "format": e.fmt, "encoding": e.encoding, "checksum": e.checksum, "lines": e.line_count}
            for e in batch.exports.all()
        ]
        return Response(data)

    @extend_schema(responses=LineSerializer(many=True))
    @action(detail=True, methods=["get"])
    def lines(self, request, pk=None):
        batch = self._batch(pk)
        qs = PaymentLine.objects.filter(batch=batch)
        if request.query_params.get("status"):
            qs = qs.filter(status=request.query_params["status"])
        self.paginator.ordering = "seq"
        page = self.paginate_queryset(qs.values(*LINE_VALUES))
        return self.get_paginated_response(LineSerializer(page, many=True).data)

    def _chain(self, request, pk, service):
        batch = self._batch(pk)
        body = CommentSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        batch = service(batch=batch, acting_user=request.user, comment=body.validated_data["comment"])
        return self.retrieve(request, pk=batch.pk)

    @extend_schema(request=CommentSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._chain(request, pk, svc.batch_submit)

    @extend_schema(request=CommentSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def review(self, request, pk=None):
        return self._chain(request, pk, svc.batch_review)

    @extend_schema(request=CommentSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        return self._chain(request, pk, svc.batch_approve)

    @extend_schema(request=CommentSerializer, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"], url_path="return")
    def return_(self, request, pk=None):
        return self._chain(request, pk, svc.batch_return)

    @extend_schema(request=ExportSerializer, responses={202: OpenApiTypes.OBJECT})
    @action(detail=True, methods=["post"])
    def export(self, request, pk=None):
        batch = self._batch(pk)
        body = ExportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        job = export_job_start(
            batch=batch,
            fmt=body.validated_data["format"],
            encoding=body.validated_data["encoding"],
            acting_user=request.user,
        )
        return Response(job_as_dict(job), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request={
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
        },
        responses={202: OpenApiTypes.OBJECT},
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser, FormParser], url_path="results")
    def import_results(self, request, pk=None):
        batch = self._batch(pk)
        uploaded = request.FILES.get("file")
        if uploaded is None:
            raise DomainError("请上传银行回盘文件（字段名 file）。")
        job = results_job_start(batch=batch, uploaded=uploaded, acting_user=request.user)
        return Response(job_as_dict(job), status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    @action(detail=True, methods=["post"])
    def supplement(self, request, pk=None):
        batch = svc.batch_build_supplement(batch=self._batch(pk), acting_user=request.user)
        return self.retrieve(request, pk=batch.pk)


class BatchBuild(APIView):
    """POST {"programme": CODE, "district": CODE?}: queue a build (a Job)."""

    parser_classes = [JSONParser, FormParser]

    @extend_schema(request=BuildSerializer, responses={202: OpenApiTypes.OBJECT})
    def post(self, request):
        _staff_only(request.user)
        body = BuildSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        programme = get_object_or_404(Programme, code=body.validated_data["programme"])
        district = None
        if body.validated_data["district"]:
            district = get_object_or_404(Region, code=body.validated_data["district"])
        svc.check_builder(request.user, district)
        job = build_job_start(programme=programme, district=district, acting_user=request.user)
        return Response(job_as_dict(job), status=status.HTTP_202_ACCEPTED)


class ExportDownload(APIView):
    """A bank file (scoped to batches the user may export; every download is audited)."""

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, pk: int):
        _staff_only(request.user)
        export = get_object_or_404(
            BatchExport.objects.filter(batch__in=Batch.objects.for_user(request.user)).select_related("batch"), pk=pk
        )
        if not can_export(request.user, export.batch):
            raise Http404
        export_download_audit(export=export, acting_user=request.user)
        from pathlib import Path

        path = Path(export.path)
        return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


class Reconciliation(APIView):
    """GET /api/v1/programmes/<code>/reconciliation/?by=district|rule: figures within scope."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, code: str):
        _staff_only(request.user)
        programme = get_object_or_404(Programme, code=code)
        user = request.user
        district = (
            None if user.sees_everything or user.region is None or user.region.level == "province" else user.region
        )
        by = ("district_id",) if request.query_params.get("by") == "district" else ("district_id", "rule_key")
        total, rows = reconcile(programme=programme, district=district, by=by)
        return Response(
            {**total.as_json(programme.code), "problems": total.problems, "rows": [r.as_dict() for r in rows]}
        )
