"""/accounts/jobs/: a user's background jobs, their progress (polled as JSON) and the 重试 button."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.selectors import job_as_dict, jobs_for_user
from accounts.services.job_recovery import job_retry as job_retry_service
from core.errors import DomainError


@login_required
def job_list(request):
    jobs = jobs_for_user(request.user)[:100]
    return render(request, "accounts/job_list.html", {"jobs": jobs})


@login_required
def job_detail(request, pk: int):
    job = get_object_or_404(jobs_for_user(request.user), pk=pk)
    return render(request, "accounts/job_detail.html", {"job": job})


@login_required
def job_status(request, pk: int):
    """The JSON the progress component polls."""
    job = get_object_or_404(jobs_for_user(request.user), pk=pk)
    return JsonResponse(job_as_dict(job))


@login_required
@require_POST
def job_retry(request, pk: int):
    """重试: the owner puts a failed (or dead) job of theirs back in the queue."""
    job = get_object_or_404(jobs_for_user(request.user), pk=pk)
    try:
        job_retry_service(job=job, acting_user=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.info(request, gettext("任务 #%(id)s 已重新排队。") % {"id": job.pk})
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("accounts:job_detail", args=[job.pk])
    return redirect(target)
