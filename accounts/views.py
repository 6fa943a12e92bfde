import logging

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render

from accounts.forms import LoginForm
from accounts.selectors import job_as_dict, jobs_for_user

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
