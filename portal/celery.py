"""The Celery application.

Configuration comes from Django settings (the CELERY_* names). Without REDIS_URL,
tasks run in-process (task_always_eager), so `make run` needs no broker.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
