from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DisbursementsConfig(AppConfig):
    name = "disbursements"
    verbose_name = _("补贴发放")

    def ready(self):
        # Register the rollup tasks (Celery's autodiscovery imports only tasks.py) and
        # their survey_changed receiver.
        # An import that finished recomputes its district's entitlements (a Job).
        from beneficiaries.signals import import_finished
        from disbursements import batch_tasks, rollup_tasks, voucher_tasks  # noqa: F401
        from disbursements.tasks import on_import_finished

        import_finished.connect(on_import_finished, dispatch_uid="disbursements.recompute_after_import")

        # Fraud signals are recomputed (a job) after every import and every rollup refresh
        # (which follows each computation, batch build and survey change).
        from disbursements import fraud, signal_tasks
        from disbursements.rollups import rollups_refreshed

        import_finished.connect(signal_tasks.on_import_finished, dispatch_uid="disbursements.signals_after_import")
        rollups_refreshed.connect(signal_tasks.on_rollups_refreshed, dispatch_uid="disbursements.signals_after_rollups")

        # A registration held by a high signal says so on its page.
        from beneficiaries.holds import hold_provider

        hold_provider(fraud.registration_holds)
