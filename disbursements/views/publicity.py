"""Pages of 公示: the public list and notice (no login), its PDF and XLSX, filing an
objection; and the district officer's side: publish, read objections, resolve them.

Adapters only. Public pages show only published notices and only the snapshot
columns (masked name, employer, scheme, amount). Officer pages start from
`Notice.objects.for_user(user)`: out of scope is 404.
"""

import os
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.scopes import is_staff_user
from accounts.services.audit import audit_record
from core.errors import DomainError
from core.views import flash_outcome
from disbursements.choices import ObjectionStatus
from disbursements.models import Batch, Notice, Objection
from disbursements.services import publicity as svc
from disbursements.services import publicity_files
from disbursements.services.safeguards import RateLimited
from disbursements.views.client import client_ip
from programs.models import Programme
from regions.models import Region


def _staff(request):
    if not is_staff_user(request.user):
        raise Http404


def _public_notice(pk: int) -> Notice:
    return get_object_or_404(Notice.objects.public().select_related("district", "programme", "batch"), pk=pk)


# --------------------------------------------------------------------------- public


def gongshi_index(request):
    """Open and closed notices by city and district (no login)."""
    region = None
    code = request.GET.get("region", "").strip()
    if code:
        region = Region.objects.filter(code=code).first()
    notices = svc.notices_public(region=region)
    page = Paginator(notices, 50).get_page(request.GET.get("page"))
    today = timezone.localdate()
    for notice in page.object_list:
        notice.open_now = notice.is_open(today)
    cities = Region.objects.filter(level="city", pk__in=Notice.objects.public().values("district__parent_id")).order_by(
        "code"
    )
    districts = Region.objects.filter(pk__in=Notice.objects.public().values("district_id")).order_by("code")
    response = render(
        request,
        "disbursements/gongshi/index.html",
        {"page": page, "region": region, "cities": cities, "districts": districts},
    )
    return response


def gongshi_detail(request, pk: int):
    notice = _public_notice(pk)
    lines = notice.lines.order_by("seq").values("seq", "name_masked", "employer_name", "scheme", "amount", "status")
    page = Paginator(lines, 100).get_page(request.GET.get("page"))
    return render(
        request,
        "disbursements/gongshi/notice.html",
        {
            "notice": notice,
            "page": page,
            "totals": svc.notice_totals(notice),
            "open_now": notice.is_open(),
            "values": {},
        },
    )


def _cached_file(notice: Notice, suffix: str, make) -> Path:
    """A notice's file is made once per version (an upheld objection bumps it), so a
    burst of downloads of a big notice costs one rendering."""
    folder = Path(settings.MEDIA_ROOT) / "gongshi"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"notice-{notice.pk}-v{notice.version}.{suffix}"
    if not path.exists():
        # A part file of this request's own: two first downloads at once each write
        # their own, and the rename is atomic, so a reader never gets half a file.
        part = folder / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.part"
        part.write_bytes(make(notice))
        part.replace(path)
    return path


def gongshi_pdf(request, pk: int):
    notice = _public_notice(pk)
    path = _cached_file(notice, "pdf", publicity_files.notice_pdf)
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"公示-{notice.district.name}-{notice.pk}.pdf")


def gongshi_xlsx(request, pk: int):
    notice = _public_notice(pk)
    path = _cached_file(notice, "xlsx", publicity_files.notice_xlsx)
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"公示-{notice.district.name}-{notice.pk}.xlsx")


@require_POST
def gongshi_object(request, pk: int):
    """Anyone files an objection (CSRF-protected, rate limited per address)."""
    notice = _public_notice(pk)
    values = {k: request.POST.get(k, "") for k in ("line", "reason", "contact")}
    line = values["line"].strip()
    error, status = "", 200
    if line and not line.isdigit():
        error = gettext("序号应为数字（公示名单第一列），不针对具体人员可不填。")
    else:
        try:
            svc.objection_rate_check(notice=notice, ip=client_ip(request))
            svc.objection_file(
                notice=notice,
                line_seq=int(line) if line else None,
                reason=values["reason"],
                contact=values["contact"],
                ip=client_ip(request),
            )
        except RateLimited as exc:
            error, status = exc.message, 429
        except DomainError as exc:
            error, status = exc.message, 400
    if not error:
        messages.success(request, gettext("异议已提交，区县人社部门将在公示期内核实处理。感谢您的监督。"))
        return redirect("gongshi:detail", pk=notice.pk)
    lines = notice.lines.order_by("seq").values("seq", "name_masked", "employer_name", "scheme", "amount", "status")
    return render(
        request,
        "disbursements/gongshi/notice.html",
        {
            "notice": notice,
            "page": Paginator(lines, 100).get_page(1),
            "totals": svc.notice_totals(notice),
            "open_now": notice.is_open(),
            "objection_error": error,
            "values": values,
        },
        status=status,
    )


# --------------------------------------------------------------------------- officers


@login_required
def notice_manage_list(request):
    _staff(request)
    user = request.user
    notices = (
        Notice.objects.for_user(user)
        .select_related("district", "batch", "programme")
        .annotate(open_objections=Count("objections", filter=Q(objections__status=ObjectionStatus.OPEN)))
        .order_by("-created_at", "-id")
    )
    page = Paginator(notices, 50).get_page(request.GET.get("page"))
    districts = []
    if user.role == Role.DISTRICT and user.region:
        districts = list(Region.objects.within(user.region).districts())
    return render(
        request,
        "disbursements/gongshi/manage_list.html",
        {
            "page": page,
            "districts": districts,
            "programmes": Programme.objects.order_by("-start_date"),
            "today": timezone.localdate(),
        },
    )


@login_required
def notice_manage_detail(request, pk: int):
    _staff(request)
    notice = get_object_or_404(Notice.objects.for_user(request.user).select_related("district", "batch"), pk=pk)
    objections = list(notice.objections.select_related("line", "resolved_by").order_by("status", "-created_at"))
    # The objectors' contact details are personal information: reading them is traced.
    audit_record(
        user=request.user, action="notice_objections_view", obj=notice, changes={"objections": len(objections)}
    )
    return render(
        request,
        "disbursements/gongshi/manage_detail.html",
        {
            "notice": notice,
            "objections": objections,
            "totals": svc.notice_totals(notice),
            "open_now": notice.is_open(),
            "can_act": svc._may_publish(request.user, notice.district),
        },
    )


@login_required
@require_POST
def notice_publish(request):
    """Publish a notice for a draft batch (`batch`) or a district's entitlements."""
    _staff(request)
    user = request.user
    try:
        days = int(request.POST.get("days") or 0) or None
    except ValueError:
        days = None
    fields = dict(
        acting_user=user,
        contact_phone=request.POST.get("contact_phone", ""),
        title=request.POST.get("title", ""),
        days=days,
    )
    if request.POST.get("batch"):
        batch = get_object_or_404(Batch.objects.for_user(user), pk=request.POST["batch"])
        back = reverse("disbursements:batch_detail", args=[batch.pk])
        fields["batch"] = batch
    else:
        back = reverse("gongshi:manage")
        fields["programme"] = get_object_or_404(Programme, code=request.POST.get("programme", ""))
        fields["district"] = get_object_or_404(
            Region.objects.within(user.region) if user.region else Region.objects, code=request.POST.get("district", "")
        )
    try:
        notice = svc.notice_create(**fields)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect(back)
    messages.success(
        request,
        gettext("公示已发布，公示期至 %(date)s。") % {"date": f"{notice.ends_on:%Y-%m-%d}"},
    )
    return redirect("gongshi:manage_detail", pk=notice.pk)


@login_required
@require_POST
def notice_withdraw(request, pk: int):
    _staff(request)
    notice = get_object_or_404(Notice.objects.for_user(request.user), pk=pk)
    flash_outcome(
        request,
        lambda: svc.notice_withdraw(notice=notice, acting_user=request.user, reason=request.POST.get("reason", "")),
        gettext("公示已撤回。"),
    )
    return redirect("gongshi:manage_detail", pk=notice.pk)


@login_required
@require_POST
def objection_resolve(request, pk: int):
    _staff(request)
    objection = get_object_or_404(Objection.objects.for_user(request.user).select_related("notice", "line"), pk=pk)
    flash_outcome(
        request,
        lambda: svc.objection_resolve(
            objection=objection,
            acting_user=request.user,
            decision=request.POST.get("decision", ""),
            resolution=request.POST.get("resolution", ""),
            outcome=request.POST.get("outcome", ""),
        ),
        gettext("异议已处理。"),
    )
    return redirect("gongshi:manage_detail", pk=objection.notice_id)
