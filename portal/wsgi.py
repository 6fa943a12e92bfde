"""WSGI entry point (gunicorn portal.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
application = get_wsgi_application()

# A DATABASE_URL that points at nothing is said once, clearly, at start-up.
from portal.health import say_once_if_database_is_unreachable  # noqa: E402

say_once_if_database_is_unreachable()
