from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisbursementsConfig(AppConfig):
    name = "disbursements"
    verbose_name = _("补贴发放")

    def ready(self):
        # The tasks register their job kinds with the recovery sweep (accounts.services.JOB_TASKS),
        # where the services find them, and the rollups' survey_changed receiver.
        from beneficiaries.holds import hold_provider
        from beneficiaries.signals import import_finished
        from disbursements import tasks
        from disbursements.services import fraud
        from disbursements.services.rollups import rollups_refreshed

        # An import that finished recomputes its district's entitlements (a Job).
        import_finished.connect(tasks.on_import_finished, dispatch_uid="disbursements.recompute_after_import")

        # Fraud signals are recomputed (a job) after every import and every rollup refresh
        # (which follows each computation, batch build and survey change).
        import_finished.connect(tasks.signals_on_import_finished, dispatch_uid="disbursements.signals_after_import")
        rollups_refreshed.connect(tasks.on_rollups_refreshed, dispatch_uid="disbursements.signals_after_rollups")

        # A registration held by a high signal says so on its page.
        hold_provider(fraud.registration_holds)
