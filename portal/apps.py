from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = _("门户")

    def ready(self):
        # Connect the dashboards' receiver (warms cached panels after a rollup refresh)
        # in every process, the Celery worker included.
        from portal import checks, dashboards  # noqa: F401 (checks: DATABASE_URL that points at nothing)
