"""Pages of batches: list, detail (lines masked, chain, files, results, audit,
reconciliation), actions, the jobs that build, export and import them.

Adapters only: every object comes from `Batch.objects.for_user(user)` (404 outside the
scope), every write is one service call, a DomainError becomes a message.
"""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import CharField, Count, Q, Sum
from django.db.models.functions import Cast
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.audit_display import audit_rows_grouped
from accounts.choices import Role
from accounts.models import AuditEntry, Job
from accounts.scopes import require_staff
from accounts.selectors import jobs_for_user
from accounts.views.jobs import job_retry_redirect
from core.errors import DomainError
from core.views import flash_outcome
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import Batch, BatchExport, PaymentLine, Voucher
from disbursements.services import batches as svc
from disbursements.services.employer_payments import employer_corrected_account, line_correct_from_registration
from disbursements.services.payment_files import can_export, export_download_audit
from disbursements.services.reconciliation import (
    batch_total_problems,
    programme_alarms,
    reconcile,
    reconciliation_alarms_cached,
)
from disbursements.tasks import (
    BATCH_KINDS,
    build_job_start,
    export_job_start,
    job_retry_batch,
    results_job_start,
)
from programs.choices import Channel
from programs.models import Programme
from regions.models import Region


def _staff(request):
    require_staff(request.user)


def _batches(request):
    return Batch.objects.for_user(request.user).select_related("programme", "district", "parent")


# --------------------------------------------------------------------------- list


@login_required
def batch_list(request):
    _staff(request)
    user = request.user
    qs = _batches(request)
    programmes = list(Programme.objects.order_by("-start_date"))
    programme = None
    if request.GET.get("programme"):
        programme = next((p for p in programmes if p.code == request.GET["programme"]), None)
    if programme:
        qs = qs.filter(programme=programme)
    status = request.GET.get("status", "")
    if status == "todo":
        qs = qs.filter(svc.q_batches_needing(user))
    elif status in BatchStatus.values:
        qs = qs.filter(status=status)
    channel = request.GET.get("channel", "")
    if channel in Channel.values:
        qs = qs.filter(channel=channel)
    q = request.GET.get("q", "").strip()
    if q:
        qs = qs.filter(Q(number__icontains=q) | Q(district__name__contains=q))
    page = Paginator(qs.order_by("-created_at", "-id"), 50).get_page(request.GET.get("page"))
    build_districts = []
    if user.role == Role.DISTRICT or user.is_superuser:
        build_districts = list(Region.objects.within(user.region).districts()) if user.region else []
    alarm_programme = programme or (programmes[0] if programmes else None)
    alarms = reconciliation_alarms_cached(user, alarm_programme) if alarm_programme else []
    jobs = Job.objects.filter(requested_by=user, kind__in=BATCH_KINDS).order_by("-created_at")[:5]
    return render(
        request,
        "disbursements/batch_list.html",
        {
            "page": page,
            "programmes": programmes,
            "programme": programme,
            "status": status,
            "statuses": BatchStatus.choices,
            "channel": channel,
            "channels": [c for c in Channel.choices if c[0] != Channel.EMPLOYER],
            "q": q,
            "build_districts": build_districts,
            "alarms": alarms,
            "jobs": jobs,
            "can_build": user.role == Role.DISTRICT or user.is_superuser,
        },
    )


@login_required
@require_POST
def batch_build(request):
    _staff(request)
    user = request.user
    programme = get_object_or_404(Programme, code=request.POST.get("programme", ""))
    district = None
    if request.POST.get("district"):
        district = get_object_or_404(
            Region.objects.within(user.region) if user.region else Region.objects, code=request.POST["district"]
        )
    try:
        svc.check_builder(user, district)
        job = build_job_start(programme=programme, district=district, acting_user=user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("disbursements:batch_list")
    messages.info(request, gettext("已开始生成发放批次，完成后刷新本页即可看到新批次。"))
    return redirect(reverse("disbursements:batch_list") + f"?programme={programme.code}&job={job.pk}")


# --------------------------------------------------------------------------- detail


@login_required
def batch_detail(request, pk: int):
    _staff(request)
    user = request.user
    batch = get_object_or_404(_batches(request), pk=pk)
    lines = PaymentLine.objects.filter(batch=batch).select_related("entitlement__registration").order_by("seq")
    line_filter = request.GET.get("lines", "")
    if line_filter in LineStatus.values:
        lines = lines.filter(status=line_filter)
    page = Paginator(lines, 50).get_page(request.GET.get("page"))
    if svc.can_submit(user, batch):
        # A failed line whose employer has since given the correct account: one click.
        for line in page.object_list:
            line.employer_account = employer_corrected_account(line)
    # The hash check reads every line: on the page for batches of ordinary size (or on
    # request); exports always check it before writing a file.
    verify = batch.line_count <= VERIFY_ON_PAGE_MAX or request.GET.get("verify") == "1"
    problems = svc.batch_integrity_problems(batch, check_hash=verify)
    # A rule paid "电子红包或现金" is reconciled by channel too: the packets and the cash apart.
    split = batch.channel in (Channel.RED_PACKET, Channel.CASH)
    recon_total, recon_rows = reconcile(
        programme=batch.programme, district=batch.district, by=("rule_key", "channel") if split else ("rule_key",)
    )
    # The batch's own entries and those of all its lines; a bank result's one row per
    # line is one row here ("银行结果 605 笔：已发放 602，发放失败 3").
    audit, _more = audit_rows_grouped(
        AuditEntry.objects.filter(
            Q(object_type="disbursements.batch", object_id=str(batch.pk))
            | Q(
                object_type="disbursements.paymentline",
                object_id__in=PaymentLine.objects.filter(batch=batch)
                .annotate(sid=Cast("id", CharField()))
                .values("sid"),
            )
        ),
        limit=100,
    )
    jobs = Job.objects.filter(params__batch_id=batch.pk).order_by("-created_at")[:5]
    return render(
        request,
        "disbursements/batch_detail.html",
        {
            "batch": batch,
            "page": page,
            "line_filter": line_filter,
            "line_statuses": LineStatus.choices,
            "by_status": svc.batch_totals_by_status(batch),
            "reissued": _reissued(batch),
            "steps": _steps(batch),
            "export_choices": EXPORT_CHOICES,
            "actions": svc.allowed_actions(user, batch),
            "problems": problems,
            "hash_verified": verify,
            "recon_total": recon_total,
            "recon_rows": recon_rows,
            "audit": audit,
            "exports": batch.exports.select_related("exported_by")[:10],
            "jobs": jobs,
            "can_export": can_export(user, batch)
            and batch.status in (BatchStatus.APPROVED, BatchStatus.EXPORTED, BatchStatus.RECONCILED),
            "can_results": svc.can_submit(user, batch)
            and batch.status in (BatchStatus.EXPORTED, BatchStatus.RECONCILED),
            "can_correct": svc.can_submit(user, batch),
            "is_voucher": batch.channel == Channel.E_VOUCHER,
            "is_red_packet": batch.channel == Channel.RED_PACKET,
            "voucher_counts": _voucher_counts(batch) if batch.channel == Channel.E_VOUCHER else None,
            "supplements": batch.supplements.all(),
            "reissuable": PaymentLine.objects.filter(
                batch=batch, status=LineStatus.FAILED, corrected_at__isnull=False, reissues__isnull=True
            ).count(),
        },
    )


def _reissued(batch) -> dict:
    """Failed lines of the batch already paid again in a 补发 batch: the batch's own
    "发放失败" counts them, reconciliation does not (it counts failed and not re-issued),
    so the page says how the two figures differ."""
    failed_again = PaymentLine.objects.filter(reissue_of__batch=batch).values("reissue_of_id")
    row = PaymentLine.objects.filter(pk__in=failed_again).aggregate(n=Count("id"), total=Sum("amount"))
    return {"count": row["n"] or 0, "total": row["total"] or 0}


def _voucher_counts(batch):
    rows = Voucher.objects.filter(entitlement__lines__batch=batch).values("status").annotate(n=Count("id"))
    return {r["status"]: r["n"] for r in rows}


VERIFY_ON_PAGE_MAX = 100_000
EXPORT_CHOICES = [
    ("csv", "utf-8", _("导出 CSV（UTF-8）")),
    ("csv", "gb18030", _("导出 CSV（GB18030）")),
    ("xlsx", "", _("导出 XLSX")),
]

# The approval steps as the batch page names them (batches.ACTION_LABELS and LEVEL_LABELS
# stay Chinese: the service's refusals quote them).
STEP_LABELS = {
    "build": _("生成批次"),
    "submit": _("提交"),
    "review": _("复核通过"),
    "approve": _("审批通过"),
    "return": _("退回"),
    "export": _("导出银行文件"),
    "results": _("导入银行结果"),
    "reconcile": _("对账完成"),
}
LEVEL_LABELS = {svc.LEVEL_DISTRICT: _("区县经办"), svc.LEVEL_CITY: _("市级复核"), svc.LEVEL_PROVINCE: _("省级审批")}


def _steps(batch):
    steps = list(batch.steps.select_related("user"))
    for step in steps:
        step.label = STEP_LABELS.get(step.action, step.action)
        if step.action == "return":
            step.label = gettext("退回（%(level)s）") % {"level": LEVEL_LABELS.get(step.level, "")}
    return steps


ACTIONS = {
    "submit": svc.batch_submit,
    "review": svc.batch_review,
    "approve": svc.batch_approve,
    "return": svc.batch_return,
}


@login_required
@require_POST
def batch_action(request, pk: int, action: str):
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    service = ACTIONS.get(action)
    if service is None:
        raise Http404
    flash_outcome(
        request,
        lambda: service(batch=batch, acting_user=request.user, comment=request.POST.get("comment", "").strip()),
        gettext("批次 %(number)s：%(step)s。") % {"number": batch.number, "step": STEP_LABELS[action]},
    )
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
@require_POST
def batch_export_start(request, pk: int):
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    fmt = request.POST.get("fmt", "csv")
    encoding = request.POST.get("encoding", "utf-8")
    flash_outcome(
        request,
        lambda: export_job_start(batch=batch, fmt=fmt, encoding=encoding, acting_user=request.user),
        gettext("正在生成银行文件，完成后可在“银行文件”中下载。"),
        level=messages.INFO,
    )
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
def export_download(request, pk: int):
    _staff(request)
    export = get_object_or_404(BatchExport.objects.filter(batch__in=_batches(request)).select_related("batch"), pk=pk)
    if not can_export(request.user, export.batch):
        raise Http404
    path = Path(export.path)
    if not path.exists():
        raise Http404
    export_download_audit(export=export, acting_user=request.user)
    return FileResponse(open(path, "rb"), as_attachment=True, filename=path.name)


@login_required
@require_POST
def batch_results_upload(request, pk: int):
    return upload_job_start(
        request,
        pk,
        results_job_start,
        missing=gettext("请选择银行回盘文件（CSV 或 XLSX）。"),
        started=gettext("正在导入银行结果。"),
    )


def upload_job_start(request, pk: int, start, *, missing: str, started: str):
    """A file uploaded on a batch's page, handed to `start` (which keeps it and queues its
    import as a job); back to the batch page with what happened."""
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, missing)
        return redirect("disbursements:batch_detail", pk=batch.pk)
    flash_outcome(
        request, lambda: start(batch=batch, uploaded=uploaded, acting_user=request.user), started, level=messages.INFO
    )
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
@require_POST
def line_correct(request, pk: int, line_pk: int):
    return _line_correct_page(
        request,
        pk,
        line_pk,
        lambda line: svc.line_correct(
            line=line,
            account=request.POST.get("account", ""),
            bank_name=request.POST.get("bank_name", ""),
            phone=request.POST.get("phone", ""),
            acting_user=request.user,
            comment=request.POST.get("comment", ""),
        ),
    )


def _line_correct_page(request, pk: int, line_pk: int, correct):
    """A failed line of a batch in scope, corrected by `correct(line)`; back to the
    batch's failed lines with what happened."""
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    line = get_object_or_404(
        PaymentLine.objects.filter(batch=batch).select_related("batch", "entitlement__registration"), pk=line_pk
    )
    try:
        correct(line)
    except DomainError as exc:
        messages.error(request, gettext("第 %(seq)s 笔：%(message)s") % {"seq": line.seq, "message": exc.message})
    else:
        done = (
            gettext("第 %(seq)s 笔已更正（确认）手机号，可生成补发批次。")
            if batch.channel == Channel.RED_PACKET
            else gettext("第 %(seq)s 笔已更正账号，可生成补发批次。")
        )
        messages.success(request, done % {"seq": line.seq})
    return redirect(reverse("disbursements:batch_detail", args=[batch.pk]) + "?lines=failed")


@login_required
@require_POST
def batch_supplement(request, pk: int):
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    try:
        supplement = svc.batch_build_supplement(batch=batch, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("disbursements:batch_detail", pk=batch.pk)
    messages.success(request, gettext("已生成补发批次 %(number)s。") % {"number": supplement.number})
    return redirect("disbursements:batch_detail", pk=supplement.pk)


@login_required
@require_POST
def job_retry(request, job_pk: int):
    _staff(request)
    job = get_object_or_404(jobs_for_user(request.user).filter(kind__in=BATCH_KINDS), pk=job_pk)
    return job_retry_redirect(request, job, retry=job_retry_batch, default=reverse("disbursements:batch_list"))


@login_required
def reconciliation(request):
    _staff(request)
    user = request.user
    programmes = list(Programme.objects.order_by("-start_date"))
    programme = next(
        (p for p in programmes if p.code == request.GET.get("programme")), programmes[0] if programmes else None
    )
    district = None if user.sees_everything or user.region is None or user.region.level == "province" else user.region
    by = {"district": ("district_id",), "channel": ("district_id", "channel")}.get(
        request.GET.get("by", ""), ("district_id", "rule_key")
    )
    total, rows = reconcile(programme=programme, district=district, by=by) if programme else (None, [])
    problems = batch_total_problems(programme, district) if programme else []
    # The one alarm: tampered frozen batches, unbalanced districts, open 多发 items.
    alarms = programme_alarms(programme, district) if programme else []
    return render(
        request,
        "disbursements/reconciliation.html",
        {
            "programmes": programmes,
            "programme": programme,
            "total": total,
            "rows": rows,
            "problems": problems,
            "alarms": [a for a in alarms if a["kind"] in ("hash", "overpaid")],
            "by": by,
        },
    )


@login_required
@require_POST
def line_take_employer_account(request, pk: int, line_pk: int):
    """The officer takes the account the employer corrected for a failed line."""
    return _line_correct_page(
        request, pk, line_pk, lambda line: line_correct_from_registration(line=line, acting_user=request.user)
    )
