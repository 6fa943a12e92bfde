import logging

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from accounts.forms import LoginForm
from accounts.selectors import job_as_dict, jobs_for_user
from accounts.services import job_retry as job_retry_service
from core.errors import DomainError

logger = logging.getLogger(__name__)


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.is_busy:
            # Every password-hashing slot is taken (accounts/login_gate.py): ask to retry soon.
            response.status_code = 503
            response["Retry-After"] = "2"
            # Expected in a 9:00 login storm, not a fault: a warning, not django.request's ERROR for a 5xx.
            logger.warning("login asked to retry: every password-hashing slot is busy")
            response._has_been_logged = True
        return response


class LogoutView(auth_views.LogoutView):
    pass


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
