"""Signing in and out."""

import logging

from django.contrib.auth import views as auth_views

from accounts.forms import LoginForm

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
