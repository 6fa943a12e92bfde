from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "门户"

    def ready(self):
        # Connect the dashboards' receiver (warms cached panels after a rollup refresh)
        # in every process, the Celery worker included.
        from portal import dashboards  # noqa: F401
