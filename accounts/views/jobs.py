"""/accounts/jobs/: a user's background jobs, their progress (polled as JSON) and the 重试 button."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.selectors import job_as_dict, jobs_for_user
from accounts.services.job_recovery import job_retry as job_retry_service
from core.views import flash_outcome, next_or


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
    return job_retry_redirect(
        request, job, retry=job_retry_service, default=reverse("accounts:job_detail", args=[job.pk])
    )


def job_retry_redirect(request, job, *, retry, default: str):
    """The 重试 button of any page: `retry(job=…, acting_user=…)` (a service that re-queues
    the job), its outcome said as a message, then back to the form's `next` or `default`."""
    flash_outcome(
        request,
        lambda: retry(job=job, acting_user=request.user),
        gettext("任务 #%(id)s 已重新排队。") % {"id": job.pk},
        level=messages.INFO,
    )
    return redirect(next_or(request, default))
