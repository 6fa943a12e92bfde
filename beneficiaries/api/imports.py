"""/api/v1/imports/: upload a file (checked at once, nothing written), read its
preview, confirm it (a Job), then follow /api/v1/jobs/<id>/.

    POST /api/v1/imports/                 multipart: file, kind=workers|employers,
                                          employer (id or credit code), programme (code)
                                          → 201 {id, kind, filename, preview, …}
    GET  /api/v1/imports/<id>/            the upload, its preview and job
    GET  /api/v1/imports/<id>/preview/    the dry-run result with every row's errors (first 500)
    POST /api/v1/imports/<id>/confirm/    {valid_only: bool} → 202 {job, status_url}
    GET  /api/v1/imports/<id>/report/?stage=preview|import&type=xlsx|csv   rejected rows

Scope: the employer is looked up in the user's scope (an agent's own employers, an
officer's subtree): anything else is 404, as is another user's upload.
"""

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from beneficiaries.importer import uploads
from beneficiaries.models import Employer
from beneficiaries.spreadsheets import limit_upload
from programs.models import Programme


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    kind = serializers.ChoiceField(choices=uploads.KINDS, default="workers")
    employer = serializers.CharField(required=False, allow_blank=True)
    programme = serializers.CharField(required=False, allow_blank=True)


class ConfirmSerializer(serializers.Serializer):
    valid_only = serializers.BooleanField(default=False)


def _upload(request, token):
    try:
        return uploads.import_upload_get(user=request.user, token=token)
    except uploads.UploadNotFound:
        raise Http404 from None


def _describe(request, upload) -> dict:
    token = upload.token
    return {
        "id": token,
        "kind": upload.kind,
        "filename": upload.filename,
        "size": upload.meta.get("size"),
        "employer": upload.meta.get("employer_id"),
        "programme": upload.meta.get("programme_id"),
        "created_at": upload.meta.get("created_at"),
        "job": upload.job_id,
        "job_url": reverse("api-job-detail", args=[upload.job_id]) if upload.job_id else None,
        "preview_url": reverse("api-import-preview", args=[token]),
        "confirm_url": reverse("api-import-confirm", args=[token]),
    }


@limit_upload
class ImportListView(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request=UploadSerializer,
        responses={201: OpenApiTypes.OBJECT},
        summary="上传并预检一个导入文件（不写入任何数据）",
    )
    def post(self, request):
        s = UploadSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        data = s.validated_data
        employer = programme = None
        if data["kind"] == "workers":
            ref = (data.get("employer") or "").strip()
            scoped = Employer.objects.for_user(request.user)
            employer = (
                scoped.filter(pk=int(ref)) if ref.isdigit() and len(ref) < 18 else scoped.filter(credit_code=ref)
            ).first()
            if employer is None:
                raise Http404("用人单位不存在或不在您的管辖范围内")
            ref = (data.get("programme") or "").strip()
            programme = (
                Programme.objects.filter(pk=int(ref)) if ref.isdigit() else Programme.objects.filter(code=ref)
            ).first()
            if programme is None:
                raise serializers.ValidationError({"programme": "项目不存在"})
        upload = uploads.import_upload_create(
            user=request.user,
            kind=data["kind"],
            fileobj=data["file"],
            filename=data["file"].name,
            employer=employer,
            programme=programme,
        )
        preview = uploads.import_upload_preview(upload=upload, user=request.user)
        return Response({**_describe(request, upload), "preview": preview}, status=status.HTTP_201_CREATED)


class ImportDetailView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="上传文件及其预检结果、导入任务")
    def get(self, request, token: str):
        upload = _upload(request, token)
        return Response({**_describe(request, upload), "preview": upload.preview})


class ImportPreviewView(APIView):
    @extend_schema(responses=OpenApiTypes.OBJECT, summary="预检结果：每一行的问题（行号、列名、原因）")
    def get(self, request, token: str):
        upload = _upload(request, token)
        preview = upload.preview or uploads.import_upload_preview(upload=upload, user=request.user)
        return Response(preview)


class ImportConfirmView(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(
        request=ConfirmSerializer,
        responses={
            202: inline_serializer(
                "ImportConfirmed",
                {
                    "job": serializers.IntegerField(),
                    "state": serializers.CharField(),
                    "status_url": serializers.CharField(),
                },
            )
        },
        summary="确认导入：启动导入任务",
    )
    def post(self, request, token: str):
        upload = _upload(request, token)
        s = ConfirmSerializer(data=request.data)
        s.is_valid(raise_exception=True)
        job = uploads.import_upload_confirm(upload=upload, user=request.user, valid_only=s.validated_data["valid_only"])
        return Response(
            {"job": job.pk, "state": job.state, "status_url": reverse("api-job-detail", args=[job.pk])},
            status=status.HTTP_202_ACCEPTED,
        )


class ImportReportView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("stage", str, enum=["preview", "import"]),
            OpenApiParameter("type", str, enum=["xlsx", "csv"]),
        ],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY},
        summary="被拒绝的行（与模板同样的列，另加错误原因）",
    )
    def get(self, request, token: str):
        upload = _upload(request, token)
        stage = request.query_params.get("stage", "import" if upload.job_id else "preview")
        fmt = request.query_params.get("type", "xlsx")
        try:
            path = uploads.import_report_path(upload=upload, stage=stage, fmt=fmt)
        except uploads.UploadNotFound:
            raise Http404 from None
        return FileResponse(open(path, "rb"), as_attachment=True, filename=f"rejected-rows.{fmt}")
