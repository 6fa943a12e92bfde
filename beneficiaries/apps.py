from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BeneficiariesConfig(AppConfig):
    name = "beneficiaries"
    verbose_name = _("企业与留岗人员")

    def ready(self):
        # Register the import job kinds with the recovery sweep (accounts.services.JOB_TASKS).
        from beneficiaries import tasks  # noqa: F401
