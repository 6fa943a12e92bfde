"""Pages of fraud signals (风险预警): the list in scope, one signal with the
registrations behind it (masked), and the officer's clear / confirm.

Adapters only: every read starts from `FraudSignal.objects.for_user(user)`.
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Case, When
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.scopes import is_staff_user
from accounts.services.audit import audit_record
from beneficiaries.models import Registration
from core.views import flash_outcome
from disbursements.choices import Severity, SignalKind, SignalStatus
from disbursements.models import FraudSignal
from disbursements.services import fraud as svc


def _signals(request):
    user = request.user
    if not is_staff_user(user):
        raise Http404
    return FraudSignal.objects.for_user(user).select_related("district", "programme", "employer")


@login_required
def signal_list(request):
    qs = _signals(request)
    status = request.GET.get("status", "open")
    if status in SignalStatus.values:
        qs = qs.filter(status=status)
    kind = request.GET.get("kind", "")
    if kind in SignalKind.values:
        qs = qs.filter(kind=kind)
    severity = request.GET.get("severity", "")
    if severity in Severity.values:
        qs = qs.filter(severity=severity)
    rank = Case(When(severity=Severity.HIGH, then=0), When(severity=Severity.MEDIUM, then=1), default=2)
    page = Paginator(qs.annotate(rank=rank).order_by("rank", "-member_count", "id"), 50).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "disbursements/signals/list.html",
        {
            "page": page,
            "status": status,
            "kind": kind,
            "severity": severity,
            "statuses": SignalStatus.choices,
            "kinds": SignalKind.choices,
            "severities": Severity.choices,
            "by_district": svc.open_signals_by_district(request.user),
        },
    )


@login_required
def signal_detail(request, pk: int):
    signal = get_object_or_404(_signals(request), pk=pk)
    members = (
        Registration.objects.for_user(request.user)
        .filter(pk__in=signal.members.values("registration_id"))
        .select_related("person", "employer", "district")
        .order_by("district_id", "employer_id", "id")[:500]
    )
    hidden = signal.members.count() - len(members)  # in another district: counted, not shown
    audit_record(user=request.user, action="signal_view", obj=signal, changes={"registrations": len(members)})
    return render(
        request,
        "disbursements/signals/detail.html",
        {
            "signal": signal,
            "members": members,
            "hidden": hidden,
            "can_decide": signal.status == SignalStatus.OPEN and svc.may_decide(request.user, signal),
        },
    )


@login_required
@require_POST
def signal_decide(request, pk: int, decision: str):
    signal = get_object_or_404(_signals(request), pk=pk)
    action = {"clear": svc.signal_clear, "confirm": svc.signal_confirm}.get(decision)
    if action is None:
        raise Http404
    flash_outcome(
        request,
        lambda: action(signal=signal, acting_user=request.user, note=request.POST.get("note", "")),
        gettext("已排除：相关人员的补贴可以进入发放批次。")
        if decision == "clear"
        else gettext("已确认：相关登记暂停发放。"),
    )
    return redirect("signals:detail", pk=signal.pk)
