from django.apps import AppConfig


class DisbursementsConfig(AppConfig):
    name = "disbursements"
    verbose_name = "补贴发放"

    def ready(self):
        # Register the rollup tasks (Celery's autodiscovery imports only tasks.py) and
        # their survey_changed receiver.
        from disbursements import batch_tasks, rollup_tasks  # noqa: F401
