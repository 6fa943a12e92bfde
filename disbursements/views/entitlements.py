"""The compute page of a programme: start a computation (a Job) and watch its progress
by district; totals per rule in the viewer's scope. Thin: selectors and tasks do the work."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from accounts.choices import JobKind, Role
from accounts.models import Job
from accounts.scopes import is_admin
from disbursements.services.entitlements import entitlement_totals
from disbursements.tasks import compute_start
from programs.selectors import programme_get


def compute_region(user, programme):
    """What a user may compute: the whole programme (province, admin) or their region."""
    if is_admin(user) or user.role == Role.PROVINCE:
        return None
    if user.role in (Role.CITY, Role.DISTRICT) and user.region_id:
        return user.region
    raise Http404


@login_required
@require_http_methods(["GET", "POST"])
def programme_compute(request, code: str):
    programme = programme_get(request.user, code)
    region = compute_region(request.user, programme)
    if request.method == "POST":
        job = compute_start(programme=programme, district=region, acting_user=request.user)
        messages.info(request, gettext("已开始计算（任务 #%(id)s），进度见下方。") % {"id": job.pk})
        return redirect("disbursements:programme_compute", programme.code)
    job = (
        Job.objects.filter(kind=JobKind.COMPUTE, params__programme_id=programme.pk)
        .filter(params__district=region.code if region else None)
        .order_by("-created_at")
        .first()
    )
    totals = entitlement_totals(programme=programme, region=region)
    return render(
        request,
        "programs/rule_compute.html",
        {"programme": programme, "region": region, "job": job, "totals": totals},
    )
