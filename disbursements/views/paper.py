"""The paper PDFs (disbursements/services/paper.py) as downloads: a batch's 审批表 and a district's
汇总表. Scope as on the pages they come from: a batch or region outside the user's
scope is 404, a page of another role is the friendly 403."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from accounts.scopes import require_staff
from disbursements.models import Batch
from disbursements.services.paper import batch_approval_pdf, district_summary_pdf
from programs.models import Programme
from regions.models import Region
from regions.selectors import regions_q


def _pdf(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    # inline: the browser's viewer opens it for printing; the name when saved.
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def batch_approval(request, pk: int):
    require_staff(request.user)
    batch = get_object_or_404(
        Batch.objects.for_user(request.user).select_related(
            "programme", "district__parent", "parent", "created_by", "submitted_by", "reviewed_by", "approved_by"
        ),
        pk=pk,
    )
    pdf = batch_approval_pdf(batch, printed_at=timezone.now(), printed_by=request.user)
    return _pdf(pdf, f"approval-{batch.number}.pdf")


@login_required
def district_summary(request, code: str):
    require_staff(request.user)
    region = get_object_or_404(Region.objects.filter(regions_q(request.user)).select_related("parent"), code=code)
    programmes = Programme.objects.order_by("-start_date")
    wanted = request.GET.get("programme")
    programme = get_object_or_404(programmes, code=wanted) if wanted else programmes.first()
    if programme is None:
        raise Http404
    return _pdf(district_summary_pdf(programme, region), f"summary-{programme.code}-{region.code}.pdf")
