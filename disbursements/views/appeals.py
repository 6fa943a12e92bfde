"""Pages of appeals (申诉): the worker's form on the lookup page and its receipt; the
employer agent's form; the officer's queue with due dates and the overdue list.

Adapters only: every list and detail starts from `Appeal.objects.for_user(user)`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.choices import Role
from accounts.scopes import is_staff_user
from accounts.services.audit import audit_record
from beneficiaries.models import Registration
from core.errors import DomainError
from core.views import flash_outcome
from disbursements.choices import AppealKind, AppealOutcome, AppealStatus
from disbursements.models import Appeal, PaymentLine
from disbursements.services import appeals as svc
from disbursements.services.safeguards import RateLimited
from disbursements.views.client import client_ip

WORKER_KINDS = [AppealKind.NOT_PAID, AppealKind.WRONG_AMOUNT, AppealKind.NOT_REGISTERED, AppealKind.OTHER]
EMPLOYER_KINDS = [AppealKind.REJECTED, AppealKind.PAYMENT_FAILED, AppealKind.WRONG_AMOUNT, AppealKind.OTHER]


# --------------------------------------------------------------------------- worker


def lookup_appeal_context(person_id: int | None) -> dict:
    """What the lookup page adds once the identity check passed: the appeal form (with
    its signed token) and the worker's appeals with their outcomes."""
    if person_id is None:
        return {}
    registrations = (
        Registration.objects.filter(person_id=person_id).select_related("programme", "employer").order_by("-created_at")
    )
    return {
        "appeal_token": svc.appeal_token(person_id),
        "appeal_kinds": [(k.value, k.label) for k in WORKER_KINDS],
        "appeal_registrations": [
            {"id": r.pk, "label": f"{r.programme.name} · {r.employer.name}"} for r in registrations[:10]
        ],
        "appeals": svc.appeals_for_lookup(person_id),
    }


@require_POST
def worker_appeal_file(request):
    """Public: the appeal form of the lookup page (CSRF, signed token, rate limited)."""
    context, status = {}, 200
    try:
        person = svc.person_from_token(request.POST.get("token", ""))
        svc.worker_rate_check(person=person, ip=client_ip(request))
        reg = request.POST.get("registration", "")
        appeal = svc.appeal_file_worker(
            person=person,
            registration_id=int(reg) if reg.isdigit() else None,
            kind=request.POST.get("kind", ""),
            text=request.POST.get("text", ""),
        )
        context["appeal"] = appeal
    except RateLimited as exc:
        context["error"], status = exc.message, 429
    except DomainError as exc:
        context["error"], status = exc.message, 400
    response = render(request, "disbursements/appeals/filed.html", context, status=status)
    response["Cache-Control"] = "no-store"
    return response


# --------------------------------------------------------------------------- officers and agents


def _appeals(request):
    user = request.user
    if not (is_staff_user(user) or user.role == Role.EMPLOYER):
        raise Http404
    return Appeal.objects.for_user(user).select_related("district", "employer", "programme")


@login_required
def appeal_list(request):
    qs = _appeals(request)
    today = timezone.localdate()
    view = request.GET.get("view", "open")
    if view == "overdue":
        qs = svc.appeals_overdue(qs, today)
    elif view == "open":
        qs = qs.filter(status=AppealStatus.OPEN)
    elif view == "resolved":
        qs = qs.filter(status=AppealStatus.RESOLVED)
    page = Paginator(qs.order_by("status", "due_on", "id"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "disbursements/appeals/list.html",
        {
            "page": page,
            "view": view,
            "today": today,
            "overdue_count": svc.appeals_overdue(_appeals(request), today).count(),
            "is_employer": request.user.role == Role.EMPLOYER,
        },
    )


@login_required
def appeal_detail(request, pk: int):
    appeal = get_object_or_404(_appeals(request).select_related("person", "registration", "line"), pk=pk)
    audit_record(user=request.user, action="appeal_view", obj=appeal)  # a worker's complaint is personal data
    return render(
        request,
        "disbursements/appeals/detail.html",
        {
            "appeal": appeal,
            "can_resolve": appeal.status == AppealStatus.OPEN and svc.may_resolve(request.user, appeal),
            "outcomes": AppealOutcome.choices,
            "overdue": appeal.is_overdue(),
        },
    )


@login_required
@require_POST
def appeal_resolve(request, pk: int):
    appeal = get_object_or_404(_appeals(request), pk=pk)
    flash_outcome(
        request,
        lambda: svc.appeal_resolve(
            appeal=appeal,
            acting_user=request.user,
            outcome=request.POST.get("outcome", ""),
            resolution=request.POST.get("resolution", ""),
        ),
        gettext("申诉已办结，申诉人可在劳动者查询页面看到答复。"),
    )
    return redirect("appeals:detail", pk=appeal.pk)


@login_required
def appeal_new(request):
    """An employer agent's appeal about its own registration or payment line."""
    user = request.user
    if user.role != Role.EMPLOYER:
        raise Http404
    registrations = Registration.objects.for_user(user).select_related("person", "programme").order_by("-id")
    values, error = {}, ""
    if request.method == "POST":
        values = {k: request.POST.get(k, "") for k in ("registration", "line", "kind", "text")}
        registration = line = None
        if values["line"].isdigit():
            line = get_object_or_404(
                PaymentLine.objects.filter(entitlement__registration__in=registrations), pk=int(values["line"])
            )
        elif values["registration"].isdigit():
            registration = get_object_or_404(registrations, pk=int(values["registration"]))
        try:
            appeal = svc.appeal_file_employer(
                acting_user=user, kind=values["kind"], text=values["text"], registration=registration, line=line
            )
        except DomainError as exc:
            error = exc.message
        else:
            messages.success(
                request, gettext("申诉已提交，办理期限至 %(date)s。") % {"date": f"{appeal.due_on:%Y-%m-%d}"}
            )
            return redirect("appeals:detail", pk=appeal.pk)
    return render(
        request,
        "disbursements/appeals/new.html",
        {
            "registrations": registrations[:200],
            "kinds": [(k.value, k.label) for k in EMPLOYER_KINDS],
            "values": values,
            "error": error,
        },
        status=400 if error else 200,
    )
