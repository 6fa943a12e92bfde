"""Import pages: template download, upload, preview (dry run), confirm, job, report.

Adapters over beneficiaries.importer.uploads: the upload is checked and previewed in
the request (nothing written), the import itself runs as a Celery Job. An upload
belongs to the user who made it; anybody else's token is 404.
"""

import io

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.scopes import is_staff_user
from accounts.selectors import jobs_for_user
from beneficiaries.importer import uploads
from beneficiaries.importer.messages import import_message
from beneficiaries.models import Employer
from beneficiaries.spreadsheets import limit_upload
from beneficiaries.xlsx_templates import employer_template, worker_template
from core.errors import DomainError
from programs.choices import ProgrammeStatus
from programs.models import Programme

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class WorkerUploadForm(forms.Form):
    employer = forms.ModelChoiceField(
        label=pgettext_lazy("field", "用人单位"), queryset=Employer.objects.none(), empty_label=_("请选择单位")
    )
    programme = forms.ModelChoiceField(label=_("项目"), queryset=Programme.objects.none(), empty_label=None)
    file = forms.FileField(label=_("名单文件"), help_text=_("Excel 工作簿 (.xlsx) 或 CSV 文件；请使用下载的模板填写。"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["employer"].queryset = Employer.objects.for_user(user).select_related("district").order_by("name")
        self.fields["programme"].queryset = Programme.objects.filter(status=ProgrammeStatus.ACTIVE)
        if self.fields["employer"].queryset.count() == 1:
            self.fields["employer"].initial = self.fields["employer"].queryset.first()
        self.fields["file"].widget.attrs["accept"] = ".xlsx,.xls,.ods,.csv"


class EmployerUploadForm(forms.Form):
    file = forms.FileField(
        label=_("单位名单文件"), help_text=_("Excel 工作簿 (.xlsx) 或 CSV 文件；请使用下载的模板填写。")
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".xlsx,.xls,.ods,.csv"


def _staff(user) -> bool:
    return is_staff_user(user)


def _upload_or_404(request, token):
    try:
        return uploads.import_upload_get(user=request.user, token=token)
    except uploads.UploadNotFound:
        raise Http404("导入文件不存在或已过期") from None


@login_required
def import_template(request, kind: str):
    """The blank template (.xlsx) to fill in."""
    buf = io.BytesIO()
    if kind == "workers":
        programme = Programme.objects.filter(code=request.GET.get("programme", "")).first()
        worker_template(buf, programme=programme)
        name = "留岗人员登记模板.xlsx"
    elif kind == "employers":
        employer_template(buf)
        name = "用人单位名单模板.xlsx"
    else:
        raise Http404
    buf.seek(0)
    return FileResponse(buf, as_attachment=True, filename=name, content_type=XLSX)


def _upload_page(request, *, kind: str, form_class, title: str):
    form = form_class(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        f = form.cleaned_data["file"]
        try:
            upload = uploads.import_upload_create(
                user=request.user,
                kind=kind,
                fileobj=f,
                filename=f.name,
                employer=form.cleaned_data.get("employer"),
                programme=form.cleaned_data.get("programme"),
            )
            uploads.import_upload_preview(upload=upload, user=request.user)
        except DomainError as exc:
            form.add_error("file", import_message(exc.message))
        else:
            return redirect("beneficiaries:import_preview", token=upload.token)
    return render(
        request,
        "beneficiaries/import_upload.html",
        {
            "form": form,
            "kind": kind,
            "title": title,
            "template_url": reverse("beneficiaries:import_template", args=[kind]),
        },
    )


@limit_upload
@login_required
def import_workers(request):
    """Upload a workers' list (employer agents for their employers, staff in their region)."""
    if request.user.role not in (Role.EMPLOYER, Role.DISTRICT, Role.CITY, Role.PROVINCE, Role.ADMIN) and not (
        request.user.is_superuser
    ):
        raise Http404
    return _upload_page(request, kind="workers", form_class=WorkerUploadForm, title=_("批量导入留岗人员"))


@limit_upload
@login_required
def import_employers(request):
    """Upload a list of employers (HR staff only)."""
    if not _staff(request.user):
        raise Http404
    return _upload_page(request, kind="employers", form_class=EmployerUploadForm, title=_("批量导入用人单位"))


@login_required
def import_preview(request, token: str):
    upload = _upload_or_404(request, token)
    if upload.job_id:
        return redirect("beneficiaries:import_job", token=token)
    preview = upload.preview
    if preview is None:
        try:
            preview = uploads.import_upload_preview(upload=upload, user=request.user)
        except DomainError as exc:
            messages.error(request, import_message(exc.message))
            return redirect(
                "beneficiaries:import_workers" if upload.kind == "workers" else "beneficiaries:import_employers"
            )
    return render(
        request,
        "beneficiaries/import_preview.html",
        {"upload": upload, "preview": preview, "employer": upload.employer(), "programme": upload.programme()},
    )


@login_required
@require_POST
def import_confirm(request, token: str):
    upload = _upload_or_404(request, token)
    try:
        uploads.import_upload_confirm(
            upload=upload, user=request.user, valid_only=request.POST.get("valid_only") == "1"
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("beneficiaries:import_preview", token=token)
    return redirect("beneficiaries:import_job", token=token)


@login_required
def import_job(request, token: str):
    upload = _upload_or_404(request, token)
    if not upload.job_id:
        return redirect("beneficiaries:import_preview", token=token)
    job = jobs_for_user(request.user).filter(pk=upload.job_id).first()
    if job is None:
        raise Http404
    return render(
        request,
        "beneficiaries/import_job.html",
        {"upload": upload, "job": job, "result": job.result if job.finished else None},
    )


@login_required
def import_report(request, token: str, stage: str, fmt: str):
    """The rejected rows, in the template's layout plus 错误原因 (carries personal data:
    only the uploader gets it)."""
    upload = _upload_or_404(request, token)
    try:
        path = uploads.import_report_path(upload=upload, stage=stage, fmt=fmt)
    except uploads.UploadNotFound:
        raise Http404 from None
    stem = upload.filename.rsplit(".", 1)[0][:60] or "名单"
    return FileResponse(
        open(path, "rb"),
        as_attachment=True,
        filename=f"{stem}-错误行.{fmt}",
        content_type=XLSX if fmt == "xlsx" else "text/csv; charset=utf-8",
    )
