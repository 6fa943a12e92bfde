"""Pages of batches: list, detail (lines masked, chain, files, results, audit,
reconciliation), actions; and the public worker self-service page.

Adapters only: every object comes from `Batch.objects.for_user(user)` (404 outside the
scope), every write is one service call, a DomainError becomes a message.
"""

from pathlib import Path

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from accounts.audit_display import audit_rows_grouped
from accounts.choices import Role
from accounts.models import AuditEntry, Job
from accounts.scopes import require_staff
from accounts.selectors import jobs_for_user
from core.errors import DomainError
from disbursements import batches as svc
from disbursements.batch_tasks import (
    BATCH_KINDS,
    build_job_start,
    export_job_start,
    job_retry_batch,
    results_job_start,
)
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import Batch, BatchExport, PaymentLine
from disbursements.payment_files import can_export, export_download_audit
from disbursements.reconciliation import (
    batch_total_problems,
    programme_alarms,
    reconcile,
    reconciliation_alarms_cached,
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
        svc._check_builder(user, district)
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
        from disbursements.employer_payments import employer_corrected_account

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
    from django.db.models import Count, Sum

    failed_again = PaymentLine.objects.filter(reissue_of__batch=batch).values("reissue_of_id")
    row = PaymentLine.objects.filter(pk__in=failed_again).aggregate(n=Count("id"), total=Sum("amount"))
    return {"count": row["n"] or 0, "total": row["total"] or 0}


def _voucher_counts(batch):
    from django.db.models import Count

    from disbursements.models import Voucher

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
    try:
        service(batch=batch, acting_user=request.user, comment=request.POST.get("comment", "").strip())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, gettext("批次 %(number)s：%(step)s。") % {"number": batch.number, "step": STEP_LABELS[action]}
        )
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
@require_POST
def batch_export_start(request, pk: int):
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    fmt = request.POST.get("fmt", "csv")
    encoding = request.POST.get("encoding", "utf-8")
    try:
        export_job_start(batch=batch, fmt=fmt, encoding=encoding, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, gettext("正在生成银行文件，完成后可在“银行文件”中下载。"))
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
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, gettext("请选择银行回盘文件（CSV 或 XLSX）。"))
        return redirect("disbursements:batch_detail", pk=batch.pk)
    try:
        results_job_start(batch=batch, uploaded=uploaded, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, gettext("正在导入银行结果。"))
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
@require_POST
def line_correct(request, pk: int, line_pk: int):
    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    line = get_object_or_404(
        PaymentLine.objects.filter(batch=batch).select_related("batch", "entitlement__registration"), pk=line_pk
    )
    try:
        svc.line_correct(
            line=line,
            account=request.POST.get("account", ""),
            bank_name=request.POST.get("bank_name", ""),
            phone=request.POST.get("phone", ""),
            acting_user=request.user,
            comment=request.POST.get("comment", ""),
        )
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
def batch_vouchers_issue(request, pk: int):
    from disbursements.voucher_tasks import issue_job_start

    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    try:
        issue_job_start(batch=batch, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, gettext("正在发放消费券。"))
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
def batch_vouchers_list(request, pk: int):
    import io

    from django.http import HttpResponse

    from accounts.services.audit import audit_record
    from disbursements.vouchers import issuance_csv

    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    if not (request.user.is_superuser or svc.can_submit(request.user, batch)):
        raise Http404
    buf = io.BytesIO()
    count = issuance_csv(batch, buf)
    audit_record(user=request.user, action="voucher_list_download", obj=batch, changes={"vouchers": count})
    response = HttpResponse(buf.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{batch.number}-vouchers.csv"'
    return response


@login_required
@require_POST
def vouchers_redemptions(request, pk: int):
    from disbursements.voucher_tasks import redemptions_job_start

    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    uploaded = request.FILES.get("file")
    if uploaded is None:
        messages.error(request, gettext("请选择核销文件。"))
        return redirect("disbursements:batch_detail", pk=batch.pk)
    try:
        redemptions_job_start(batch=batch, uploaded=uploaded, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, gettext("正在导入核销记录。"))
    return redirect("disbursements:batch_detail", pk=batch.pk)


@login_required
@require_POST
def job_retry(request, job_pk: int):
    _staff(request)
    job = get_object_or_404(jobs_for_user(request.user).filter(kind__in=BATCH_KINDS), pk=job_pk)
    try:
        job_retry_batch(job=job, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, gettext("任务 #%(id)s 已重新排队。") % {"id": job.pk})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("disbursements:batch_list")
    return redirect(target)


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


# --------------------------------------------------------------------------- 劳动者查询 (public)


def worker_lookup(request):
    """Public: no login. CSRF-protected POST, rate limited per IP and per ID number."""
    from disbursements.appeal_views import lookup_appeal_context
    from disbursements.selfservice import NOT_FOUND, RateLimited, client_ip
    from disbursements.selfservice import worker_lookup as lookup

    context = {"result": None, "error": "", "values": {}}
    status = 200
    if request.method == "POST":
        values = {k: request.POST.get(k, "").strip() for k in ("id_number", "name", "phone_tail")}
        context["values"] = {"name": values["name"]}
        missing = [
            label
            for key, label in (("id_number", _("身份证号")), ("name", _("姓名")), ("phone_tail", _("手机号后四位")))
            if not values[key]
        ]
        if missing:
            context["error"] = gettext("请填写%(fields)s。") % {"fields": gettext("、").join(str(m) for m in missing)}
        elif not (len(values["phone_tail"]) == 4 and values["phone_tail"].isdigit()):
            context["error"] = gettext("手机号后四位应为 4 位数字。")
        else:
            try:
                result = lookup(ip=client_ip(request), **values)
            except RateLimited as exc:
                context["error"] = exc.message
                status = 429
            else:
                if result.found:
                    context["result"] = result
                    context.update(lookup_appeal_context(result.person_id))  # 申诉: form and outcomes
                else:
                    context["error"] = NOT_FOUND
    response = render(request, "disbursements/lookup.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- 企业：补贴发放情况


def _employer_only(request):
    """The employer's view reads every entitlement of its scope at once (an employer has
    hundreds, not a district's hundred thousands): officers use the batch pages."""
    from django.core.exceptions import PermissionDenied as PageForbidden

    if not (request.user.is_superuser or request.user.role == Role.EMPLOYER):
        raise PageForbidden(gettext("此页面供企业经办人查看本单位人员的补贴发放情况；人社部门请使用“发放批次”。"))


@login_required
def employer_payments(request):
    """Each worker of the employer(s) in the user's scope: grants, versions, payment state."""
    from disbursements.employer_payments import STATES, employer_payment_rows, employer_payment_summary

    _employer_only(request)
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    try:
        page = max(1, int(request.GET.get("page", 1)))
    except ValueError:
        page = 1
    size = 100
    rows, has_next, total = employer_payment_rows(request.user, state=state, offset=(page - 1) * size, limit=size)
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "disbursements/employer_payments.html",
        {
            "rows": rows,
            "summary": employer_payment_summary(request.user),
            "states": STATES,
            "state": state,
            "page": {
                "page": page,
                "has_prev": page > 1,
                "has_next": has_next,
                "query": params.urlencode(),
                "row_count": total,
                "first": (page - 1) * size + 1 if rows else 0,
                "last": (page - 1) * size + len(rows),
            },
        },
    )


@login_required
def employer_payments_export(request):
    from django.http import HttpResponse

    from accounts.services.audit import audit_record
    from disbursements.employer_payments import STATES, employer_payment_rows, employer_payments_xlsx

    _employer_only(request)
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    rows, _more, total = employer_payment_rows(request.user, state=state, limit=1_000_000)
    body = employer_payments_xlsx(rows)
    audit_record(
        user=request.user,
        action="employer_payments_export",
        object_type="accounts.user",
        object_id=str(request.user.pk),
        changes={"rows": total, "state": state},
    )
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = 'attachment; filename="employer-payments.xlsx"'
    return response


# --------------------------------------------------------------------------- a registration's money


@login_required
def registration_payments(request, pk: int):
    """The part of a registration's page that belongs to this app (loaded into it by htmx):
    the entitlements with the rule version and the "why", every payment line, and the
    audit of changes to the registration, its entitlements and its lines."""
    from accounts.audit_display import audit_rows
    from beneficiaries.models import Registration
    from disbursements.entitlement_why import why_texts
    from disbursements.models import Entitlement

    registration = get_object_or_404(Registration.objects.for_user(request.user), pk=pk)
    ents = list(
        Entitlement.objects.for_user(request.user)
        .filter(registration=registration)
        .select_related("rule", "district")
        .order_by("rule_key", "id")
    )
    why = why_texts(ents)
    lines = list(
        PaymentLine.objects.filter(entitlement__in=[e.pk for e in ents]).select_related("batch").order_by("id")
    )
    by_ent: dict[int, list] = {}
    for line in lines:
        by_ent.setdefault(line.entitlement_id, []).append(line)
    for ent in ents:
        ent.why = why[ent.pk]
        ent.payment_lines = by_ent.get(ent.pk, [])
    as_text = CharField()
    audit = AuditEntry.objects.filter(
        Q(object_type="beneficiaries.registration", object_id=str(registration.pk))
        | Q(
            object_type="disbursements.entitlement",
            object_id__in=[str(e.pk) for e in ents],
        )
        | Q(
            object_type="disbursements.paymentline",
            object_id__in=PaymentLine.objects.filter(entitlement__registration=registration)
            .annotate(sid=Cast("id", as_text))
            .values("sid"),
        )
    ).select_related("user", "user__region")[:200]
    return render(
        request,
        "disbursements/_registration_payments.html",
        {
            "reg": registration,
            "entitlements": ents,
            "audit": audit_rows(audit),
            "is_staff": request.user.is_superuser or request.user.is_staff_role,
        },
    )


@login_required
@require_POST
def employer_account_correct(request, entitlement_pk: int):
    """The employer gives the correct account of a worker whose payment failed."""
    from disbursements.employer_payments import failed_line_account_correct
    from disbursements.models import Entitlement

    _employer_only(request)
    entitlement = get_object_or_404(
        Entitlement.objects.for_user(request.user).select_related("registration"), pk=entitlement_pk
    )
    try:
        failed_line_account_correct(
            entitlement=entitlement,
            account=request.POST.get("account", ""),
            bank_name=request.POST.get("bank_name", ""),
            acting_user=request.user,
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("已更正账号，区县人社专员核实后将补发。"))
    return redirect(reverse("disbursements:employer_payments") + "?state=failed")


@login_required
@require_POST
def line_take_employer_account(request, pk: int, line_pk: int):
    """The officer takes the account the employer corrected for a failed line."""
    from disbursements.employer_payments import line_correct_from_registration

    _staff(request)
    batch = get_object_or_404(_batches(request), pk=pk)
    line = get_object_or_404(
        PaymentLine.objects.filter(batch=batch).select_related("batch", "entitlement__registration"), pk=line_pk
    )
    try:
        line_correct_from_registration(line=line, acting_user=request.user)
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
