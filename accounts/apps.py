from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("用户与权限")

    def ready(self):
        from accounts import tasks, worker  # noqa: F401 (tasks: registers the self-check job kind)

        worker.connect()  # the worker's identity, liveness key and start-up recovery
