"""The small test override: real PostgreSQL and Redis, fast hashing, tasks in-process
unless a test starts a real worker (see tests of Celery)."""

import os
import tempfile

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault(
    "PII_KEYS", "t2:dGVzdC1waWkta2V5LTIyMjIyMjIyMjIyMjIyMjIyMjI=,t1:dGVzdC1waWkta2V5LTExMTExMTExMTExMTExMTExMTE="
)
os.environ.setdefault("PII_INDEX_KEY", "test-blind-index-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/portal")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
os.environ.setdefault("CELERY_EAGER", "true")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "*")

from portal.settings import *  # noqa: F403
from portal.settings import DATABASES

# The replica router's test (portal/tests/test_replica.py) reads from a real second
# database: the alias is there for it (its test database is made only when a test asks
# for it), and the router stays off (READ_REPLICA) unless that test turns it on. Its
# tables are made from the models (MIGRATE False): a standby gets its schema from the
# primary, never runs migrations, and the data migrations read the default alias.
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["replica"] = {
        **DATABASES["default"],
        "OPTIONS": dict(DATABASES["default"].get("OPTIONS", {})),
        "TEST": {"NAME": f"test_{DATABASES['default']['NAME']}_replica", "MIGRATE": False},
    }
READ_REPLICA = ""

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# TEST_MEDIA_ROOT: the fault suite shares one folder between the test process and its workers.
MEDIA_ROOT = os.environ.get("TEST_MEDIA_ROOT") or tempfile.mkdtemp(prefix="portal-test-media-")
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Static files come from static/ through the finders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
