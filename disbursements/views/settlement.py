"""The 多发/待核查 page: a district's overpayments, and the officer's decision on each.

Adapters only: items come from `Overpayment.objects.for_user(user)` (404 outside the
scope); a decision is one call to `settlement.overpayment_decide`.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.scopes import is_staff_user
from core.errors import DomainError
from disbursements.choices import OverpaymentStatus
from disbursements.models import Overpayment
from disbursements.services.settlement import can_decide_overpayment, overpayment_decide, overpayments_for
from programs.models import Programme
from regions.models import Region


def _staff(request):
    if not is_staff_user(request.user):
        raise Http404


@login_required
def overpayment_list(request):
    _staff(request)
    programmes = list(Programme.objects.order_by("-start_date"))
    programme = next(
        (p for p in programmes if p.code == request.GET.get("programme")), programmes[0] if programmes else None
    )
    district = None
    if request.GET.get("district"):
        district = Region.objects.filter(code=request.GET["district"]).first()
    status = request.GET.get("status", OverpaymentStatus.OPEN)
    if status not in OverpaymentStatus.values and status != "all":
        status = OverpaymentStatus.OPEN
    qs = overpayments_for(
        request.user, programme=programme, district=district, status=None if status == "all" else status
    )
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    for item in page:
        item.can_decide = item.status == OverpaymentStatus.OPEN and can_decide_overpayment(request.user, item)
    return render(
        request,
        "disbursements/overpayments.html",
        {
            "programmes": programmes,
            "programme": programme,
            "district": district,
            "status": status,
            "statuses": OverpaymentStatus.choices,
            "page": page,
        },
    )


@login_required
@require_POST
def overpayment_decide_view(request, pk: int):
    _staff(request)
    item = get_object_or_404(Overpayment.objects.for_user(request.user).select_related("district"), pk=pk)
    try:
        overpayment_decide(
            item=item,
            decision=request.POST.get("decision", ""),
            note=request.POST.get("note", ""),
            acting_user=request.user,
        )
    except DomainError as exc:
        messages.error(request, gettext("第 %(id)s 条：%(message)s") % {"id": item.pk, "message": exc.message})
    else:
        messages.success(request, gettext("第 %(id)s 条已处理。") % {"id": item.pk})
    back = reverse("disbursements:overpayments") + f"?programme={item.programme.code}&district={item.district_id}"
    return redirect(back)
