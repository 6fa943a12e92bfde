"""Pages of the employer's side (企业：补贴发放情况): each worker's grants and payment state,
its export, the correction of a failed account; and a registration's money (loaded into
the registration page). Adapters over disbursements.services.employer_payments."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as PageForbidden
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.audit_display import audit_rows
from accounts.choices import Role
from accounts.models import AuditEntry
from accounts.services.audit import audit_record
from beneficiaries.models import Registration
from core.views import flash_outcome
from disbursements.models import Entitlement, PaymentLine
from disbursements.selectors import why_texts
from disbursements.services.employer_payments import (
    STATES,
    employer_payment_rows,
    employer_payment_summary,
    employer_payments_xlsx,
    failed_line_account_correct,
)


def _employer_only(request):
    """The employer's view reads every entitlement of its scope at once (an employer has
    hundreds, not a district's hundred thousands): officers use the batch pages."""
    if not (request.user.is_superuser or request.user.role == Role.EMPLOYER):
        raise PageForbidden(gettext("此页面供企业经办人查看本单位人员的补贴发放情况；人社部门请使用“发放批次”。"))


@login_required
def employer_payments(request):
    """Each worker of the employer(s) in the user's scope: grants, versions, payment state."""
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
    _employer_only(request)
    entitlement = get_object_or_404(
        Entitlement.objects.for_user(request.user).select_related("registration"), pk=entitlement_pk
    )
    flash_outcome(
        request,
        lambda: failed_line_account_correct(
            entitlement=entitlement,
            account=request.POST.get("account", ""),
            bank_name=request.POST.get("bank_name", ""),
            acting_user=request.user,
        ),
        gettext("已更正账号，区县人社专员核实后将补发。"),
    )
    return redirect(reverse("disbursements:employer_payments") + "?state=failed")
