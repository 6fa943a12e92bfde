"""Settings for the 稳岗留工 portal.

One file, driven by environment variables (see README "Configuration"). Environments
differ only by variables; `core.env` readers stop start-up on a bad value.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from whitenoise.compress import Compressor

from core.env import env_bool, env_choice, env_decimal, env_int, env_list, env_str, redact_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", default=False)

# Secrets are required outside DEBUG; the development fallbacks are deliberately
# obvious so that they can never pass for production keys.
_DEV_SECRET = "dev-only-insecure-secret-key-do-not-use-in-production-0123456789"
SECRET_KEY = env_str("SECRET_KEY", required=not DEBUG) or _DEV_SECRET
if not DEBUG and SECRET_KEY == _DEV_SECRET:
    raise ImproperlyConfigured("SECRET_KEY must not be the development key when DEBUG is off.")

# Personal-data keys (PIPL). PII_KEYS is a comma-separated list of "key_id:base64-32-bytes";
# the first one encrypts, all of them decrypt, so a key can be rotated without downtime
# (`manage.py rotate_pii_keys` re-encrypts old rows). PII_INDEX_KEY keys the blind index
# (HMAC) used to find a person by ID number without decrypting anything.
_DEV_PII_KEYS = "dev1:ZGV2LW9ubHktcGlpLWtleS0wMDAwMDAwMDAwMDAwMDA="
_DEV_PII_INDEX_KEY = "dev-only-blind-index-key"
PII_KEYS = env_list("PII_KEYS") or ([_DEV_PII_KEYS] if DEBUG else [])
PII_INDEX_KEY = env_str("PII_INDEX_KEY") or (_DEV_PII_INDEX_KEY if DEBUG else None)
if not PII_KEYS or not PII_INDEX_KEY:
    raise ImproperlyConfigured("PII_KEYS and PII_INDEX_KEY must be set when DEBUG is off (see README).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "csp",
    "knox",  # expiring, hashed API tokens (docs/api.md); replaces DRF's never-expiring authtoken
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "axes",
    # Project apps, lowest layer first: regions ← accounts ← programs ← beneficiaries
    # ← disbursements ← portal. A lower app never imports a higher one.
    "regions",
    "accounts",
    "programs",
    "beneficiaries",
    "disbursements",
    "portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (below): django-csp's, its header built once per process.
    "portal.middleware.StaticPolicyCSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "portal.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, whose process_view reads every POST body: an oversized upload is refused unread.
    "portal.middleware.UploadSizeLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into a 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.navigation",
            ],
            # `|yuan`, the one amount format, in every template (portal/templatetags/money.py).
            "builtins": ["portal.templatetags.money"],
        },
    },
]

# Default: a SQLite file, so that `make run` needs nothing installed. Tests and
# production use PostgreSQL through DATABASE_URL.
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
try:
    # Health checks: a connection kept across requests is tested before reuse, so the
    # first request after a database restart does not fail on a dead socket.
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    }
except ValueError as exc:  # dj-database-url raises ValueError on an unknown scheme
    raise ImproperlyConfigured(
        f"DATABASE_URL={redact_url(DATABASE_URL)!r} cannot be used: {redact_url(exc)}"
    ) from None  # the chained error would print the URL again, password included
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that does not answer is reported in seconds, not after the OS's minutes.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: wait for a writer instead of failing at once ("database is locked").
    DATABASES["default"]["OPTIONS"] = {"timeout": 30}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# A read replica (a PostgreSQL streaming standby of DATABASE_URL) for the dashboards: with
# DATABASE_REPLICA_URL set, the reads of the dashboard page, its export and its API go
# there (core/replica.py, `replica_reads`); every write and every other read stays on
# DATABASE_URL. Unset: everything reads the one database.
DATABASE_REPLICA_URL = env_str("DATABASE_REPLICA_URL")
READ_REPLICA = ""
if DATABASE_REPLICA_URL:
    try:
        DATABASES["replica"] = dj_database_url.parse(
            DATABASE_REPLICA_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        )
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"DATABASE_REPLICA_URL={redact_url(DATABASE_REPLICA_URL)!r} cannot be used: {redact_url(exc)}"
        ) from None
    if DATABASES["replica"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DB_CONNECT_TIMEOUT", 5))
    READ_REPLICA = "replica"  # core.replica.REPLICA
DATABASE_ROUTERS = ["core.replica.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out credentials
    # ModelBackend with its password check bounded host-wide (accounts/login_gate.py).
    "accounts.backends.HashBoundModelBackend",
]
# Argon2id measured for this machine (accounts/hashers.py, docs/operations.md "Serving"). The others
# only verify old hashes, which are re-hashed with Argon2 on the user's next login.
PASSWORD_HASHERS = [
    "accounts.hashers.PortalArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# At most this many password checks at once on the host (default: all cores but one), at most
# LOGIN_WAITING_PER_WORKER logins waiting or hashing in one gunicorn worker (threaded workers),
# and a login that finds no slot within LOGIN_HASH_WAIT_MS is asked to retry (503): a sync
# worker waiting for a slot serves nobody else, so the wait is short.
LOGIN_HASH_SLOTS = env_int("LOGIN_HASH_SLOTS", max(1, (os.cpu_count() or 2) - 1), minimum=1)
LOGIN_WAITING_PER_WORKER = env_int("LOGIN_WAITING_PER_WORKER", 2, minimum=1)
LOGIN_HASH_WAIT_MS = env_int("LOGIN_HASH_WAIT_MS", 300, minimum=0)
LOGIN_HASH_LOCK_DIR = env_str("LOGIN_HASH_LOCK_DIR")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# django-axes: lock a username+IP pair after repeated failures, for a while.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env_int("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Where `collectstatic` writes (bin/build_static.sh); the production smoke test collects into a temporary folder.
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # WhiteNoise's CompressedManifestStaticFilesStorage, each file's URL worked out once per process.
        "BACKEND": "portal.staticfiles.PortalStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# WhiteNoise serves the hashed names with a ten-year, immutable Cache-Control (safe: a changed
# file gets a new name). Only the hashed copies are kept, and source maps (read only by a
# browser's developer tools) are stored uncompressed: that halves the build's compression work.
# Gzip only: with Brotli installed the same build takes 5x longer (21 s against 4 s) to save
# about 15% more on the few large libraries, which an intranet does not need.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = [*Compressor.SKIP_COMPRESS_EXTENSIONS, "map"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "media")))
MEDIA_URL = "media/"

# Security. Behind a TLS-terminating proxy in production (see docker-compose.yml).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # probes speak plain HTTP to the container
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 8 * 3600, minimum=300)
SESSION_COOKIE_SAMESITE = "Lax"
# Sessions read from the cache (Redis in production), written through to the database: one
# query less on every page, and sessions still survive a cache flush.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
CSRF_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
REFERRER_POLICY = "same-origin"

# Uploads: the importer streams large files from disk; Django's own limits stay small.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# beneficiaries: the Excel/CSV import (beneficiaries/spreadsheets.py, beneficiaries/importer/).
# A larger upload is refused (413) before its body is read; the row limit holds while the
# file is read. A zip container (.xlsx, .ods) may unpack to at most IMPORT_MAX_UNZIPPED_BYTES
# and IMPORT_MAX_ZIP_RATIO times its packed size (a zip bomb is refused unread).
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 20 * 1024 * 1024, minimum=1024)
IMPORT_MAX_ROWS = env_int("IMPORT_MAX_ROWS", 200_000, minimum=10)
# django-import-export (the admin's spreadsheets of regions, programmes, rules and employers,
# core/resources.py): an import runs in one transaction, so a file with a refused row writes
# nothing; the admin's XLSX export never turns a cell starting with "=" into a formula.
IMPORT_EXPORT_USE_TRANSACTIONS = True
IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT = True
IMPORT_MAX_UNZIPPED_BYTES = env_int("IMPORT_MAX_UNZIPPED_BYTES", 300 * 1024 * 1024, minimum=1024 * 1024)
IMPORT_MAX_ZIP_RATIO = env_int("IMPORT_MAX_ZIP_RATIO", 150, minimum=2)
# A job's (or the CLI's) import validates and writes at once, on two connections; false:
# one phase after the other (beneficiaries/importer/workers.py).
IMPORT_PIPELINE = env_bool("IMPORT_PIPELINE", default=True)
# Worker processes that check and encrypt the rows of a large import (20,000 rows or more,
# PostgreSQL), forked by the importing process; 1: that process checks them itself.
IMPORT_PROCESSES = env_int("IMPORT_PROCESSES", os.cpu_count() or 2, minimum=1)
# Where uploads wait for their preview and import (private: they carry ID and account
# numbers); empty: "<MEDIA_ROOT>-private/imports" beside MEDIA_ROOT, wherever that is.
IMPORT_ROOT = env_str("IMPORT_ROOT", "") or ""

# The font of every PDF (公示, 审批表, 汇总表; core/pdf.py): a TrueType file (.ttf/.ttc)
# to embed; "cid": the non-embedded STSong-Light; unset: the first TrueType CJK font found
# (fonts-wqy-zenhei), else STSong-Light. GONGSHI_PDF_FONT is the old name.
PDF_FONT = env_str("PDF_FONT", "") or env_str("GONGSHI_PDF_FONT", "") or ""
if PDF_FONT and PDF_FONT.lower() != "cid" and not Path(PDF_FONT).is_file():
    raise ImproperlyConfigured(f"PDF_FONT={PDF_FONT!r} is not a file; name a .ttf/.ttc font or use 'cid'.")
GONGSHI_PDF_FONT = PDF_FONT

# disbursements. Bank files hold whole ID and account numbers: they are kept outside
# MEDIA_ROOT (unset: <MEDIA_ROOT>-private/bankfiles) and downloaded only through a scoped,
# audited view. The lines of a CSV of 20,000 lines or more are decrypted and formatted
# by BANK_EXPORT_PROCESSES forked worker processes. The public pages count attempts per
# address (and per ID number) in the cache: (attempts, window in seconds). USE_X_FORWARDED_FOR takes the client's
# address from X-Forwarded-For: only behind a proxy that sets it.
BANK_FILES_DIR = env_str("BANK_FILES_DIR", "") or ""
BANK_EXPORT_PROCESSES = env_int("BANK_EXPORT_PROCESSES", 3, minimum=1)
GONGSHI_OBJECTION_IP_LIMIT = (
    env_int("GONGSHI_OBJECTION_IP_LIMIT", 5, minimum=1),
    env_int("GONGSHI_OBJECTION_IP_WINDOW", 3600, minimum=1),
)
GONGSHI_OBJECTION_NOTICE_LIMIT = (
    env_int("GONGSHI_OBJECTION_NOTICE_LIMIT", 3, minimum=1),
    env_int("GONGSHI_OBJECTION_NOTICE_WINDOW", 86400, minimum=1),
)
LOOKUP_IP_LIMIT = (env_int("LOOKUP_IP_LIMIT", 20, minimum=1), env_int("LOOKUP_IP_WINDOW", 600, minimum=1))
LOOKUP_ID_CLIENT_LIMIT = (
    env_int("LOOKUP_ID_CLIENT_LIMIT", 5, minimum=1),
    env_int("LOOKUP_ID_CLIENT_WINDOW", 3600, minimum=1),
)
LOOKUP_ID_LIMIT = (env_int("LOOKUP_ID_LIMIT", 60, minimum=1), env_int("LOOKUP_ID_WINDOW", 3600, minimum=1))
USE_X_FORWARDED_FOR = env_bool("USE_X_FORWARDED_FOR", False)

# Notifications (accounts/services/notifications.py, docs/notifications.md). SMS go through a class
# chosen here: the default writes nothing beyond the outbox row and a log line (masked number);
# beneficiaries.sms.HttpSmsBackend posts to a provider at SMS_HTTP_URL. A class path that does
# not import stops start-up (portal/checks.py), not the first message.
SMS_BACKEND = env_str("SMS_BACKEND", "accounts.sms.LogSmsBackend") or "accounts.sms.LogSmsBackend"
SMS_HTTP_URL = env_str("SMS_HTTP_URL", "") or ""
SMS_HTTP_KEY = env_str("SMS_HTTP_KEY", "") or ""
SMS_SIGN_NAME = env_str("SMS_SIGN_NAME", "稳岗留工") or "稳岗留工"
SMS_HTTP_TIMEOUT = env_int("SMS_HTTP_TIMEOUT", 10, minimum=1)
SMS_MAX_ATTEMPTS = env_int("SMS_MAX_ATTEMPTS", 5, minimum=1)
SMS_RETRY_SECONDS = env_int("SMS_RETRY_SECONDS", 60, minimum=1)
# Beat looks for SMS that are due (a retry, or rows whose sending job was never started).
SMS_SWEEP_SECONDS = env_int("SMS_SWEEP_SECONDS", 60, minimum=5)
if SMS_BACKEND == "beneficiaries.sms.HttpSmsBackend" and not SMS_HTTP_URL:
    raise ImproperlyConfigured(
        "SMS_BACKEND=beneficiaries.sms.HttpSmsBackend needs SMS_HTTP_URL (the provider's send URL)."
    )

# Celery. With REDIS_URL unset, tasks run in-process (the zero-setup `make run`);
# with it set, they go to the real broker and a worker runs them.
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = REDIS_URL or "memory://localhost/"
CELERY_RESULT_BACKEND = None  # state lives in Job rows, not in the result backend
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_EAGER", default=REDIS_URL is None)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 3600, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 60 if CELERY_TASK_TIME_LIMIT > 120 else None
# A task that runs longer than the visibility timeout would be redelivered: keep it above the hard limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 600}
# Named queues, so that each kind of work can get machines of its own (docs/scaling.md):
# a node started with `-Q compute` takes only computations. A worker started without -Q
# consumes all four (CELERY_TASK_QUEUES), which is what `make run` does. Routing is by
# task name, so a job the sweep or the 重试 button sends again (`task.delay`, through
# the engine's JOB_TASKS) lands on the same queue as the first time; the districts of a
# fanned-out computation follow their parent's queue. A task not listed goes to
# `default` (the sweeps, purges, SMS, notifications).
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = {name: {"routing_key": name} for name in ("default", "import", "compute", "export")}
CELERY_TASK_ROUTES = {
    **{
        name: {"queue": "import"}
        for name in (
            "beneficiaries.import_employers",
            "beneficiaries.import_workers",
            "disbursements.import_bank_results",
            "disbursements.import_redemptions",
        )
    },
    **{
        name: {"queue": "compute"}
        for name in (
            "disbursements.compute_entitlements",
            "disbursements.compute_district",
            "disbursements.recompute_nightly",
            "disbursements.build_batches",
            "disbursements.refresh_rollups",
            "disbursements.rollups_refresh",
            "disbursements.rollups_refresh_all",
            "disbursements.compute_signals",
            "disbursements.signals_compute",
        )
    },
    # Files for the bank and the voucher platform (publicity notices are rendered by the page).
    **{name: {"queue": "export"} for name in ("disbursements.export_batch", "disbursements.issue_vouchers")},
}
# A message is acknowledged after its task has run, and put back when the pool process
# running it dies (kill -9 of a child): the Job row's claim makes a second delivery
# harmless. A task that cannot record its job's state rejects its message (requeue).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# The broker restarts: keep retrying, at start-up too, never give up (the worker would
# exit); a task running when the connection drops finishes (the claim deduplicates).
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = False
CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] = 30  # a silently dropped connection is noticed
CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = 5
CELERY_BROKER_TRANSPORT_OPTIONS["retry_on_timeout"] = True
CELERY_BROKER_TRANSPORT_OPTIONS["health_check_interval"] = 25

# accounts: the Job engine (accounts/services/jobs.py and job_recovery.py, read as
# settings.X). A running job beats every JOB_HEARTBEAT_SECONDS;
# beat's sweep runs every JOB_SWEEP_SECONDS and re-queues a job whose heartbeat (or
# queued message) is older than JOB_STALE_SECONDS; after JOB_MAX_ATTEMPTS claims the job
# fails with a message and the owner's 重试 button. A failure is recorded for up to
# JOB_RECORD_RETRY_SECONDS while the database restarts.
JOB_HEARTBEAT_SECONDS = env_int("JOB_HEARTBEAT_SECONDS", 10, minimum=1)
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 90, minimum=5)
JOB_SWEEP_SECONDS = env_int("JOB_SWEEP_SECONDS", 30, minimum=1)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 5, minimum=1)
# Finished jobs that the portal started by itself (rollup refreshes, fraud signals, SMS
# sending) are deleted after this many days; a user's jobs are kept.
JOB_KEEP_DAYS = env_int("JOB_KEEP_DAYS", 30, minimum=1)
JOB_RECORD_RETRY_SECONDS = env_int("JOB_RECORD_RETRY_SECONDS", 60, minimum=0)
if JOB_STALE_SECONDS < 3 * JOB_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(
        f"JOB_STALE_SECONDS={JOB_STALE_SECONDS} must be at least three heartbeats "
        f"(JOB_HEARTBEAT_SECONDS={JOB_HEARTBEAT_SECONDS}), or live jobs would be taken for dead."
    )
CELERY_TIMEZONE = TIME_ZONE
# Periodic tasks (celery beat). Dashboard rollups are also refreshed on every change;
# beat is the safety net.
CELERY_BEAT_SCHEDULE = {
    "rollups-refresh-all": {
        "task": "disbursements.rollups_refresh_all",
        "schedule": env_int("ROLLUP_REFRESH_SECONDS", 600, minimum=30),
    },
    # The changes marked since the last catch-up (registrations, employers, surveys, …):
    # their people recomputed and their districts' rollups refreshed, if the job queued
    # by the change itself was lost. Under 60 s, the freshness the dashboards promise.
    "rollups-catch-up": {
        "task": "disbursements.rollups_catch_up",
        "schedule": env_int("ROLLUP_CATCH_UP_SECONDS", 30, minimum=5),
    },
    # Every job kind: a job whose worker died or whose message was lost is re-queued.
    "jobs-sweep": {"task": "accounts.sweep_jobs", "schedule": JOB_SWEEP_SECONDS},
    "jobs-purge": {"task": "accounts.purge_jobs", "schedule": crontab(hour=3, minute=45)},
    # SMS due for a retry, or whose sending job was never started, are sent.
    "sms-due": {"task": "accounts.sms_due", "schedule": SMS_SWEEP_SECONDS},
    # Half-written bank files (full ID and account numbers) of exports killed half way.
    "bank-files-purge-leftovers": {"task": "disbursements.bank_leftovers_purge", "schedule": 3600},
    # Nightly recompute of every active programme's entitlements (02:30; idempotent).
    "entitlements-recompute-nightly": {
        "task": "disbursements.recompute_nightly",
        "schedule": crontab(hour=2, minute=30),
    },
    # Uploaded files and their reports carry personal data: kept a week, then deleted.
    "imports-purge-uploads": {"task": "beneficiaries.purge_import_uploads", "schedule": crontab(hour=3, minute=15)},
    # Districts late with their 摸排 report are told once a day (idempotent per survey and day).
    "surveys-overdue-notify": {"task": "programs.surveys_overdue_notify", "schedule": crontab(hour=9, minute=0)},
    "vouchers-expire-daily": {"task": "disbursements.vouchers_expire", "schedule": crontab(hour=0, minute=5)},
}

# programs: survey reports (摸排, programs/surveys/periods.py and validate.py). A programme
# is cut into periods of SURVEY_PERIOD_DAYS days; weekly periods end on SURVEY_DUE_WEEKDAY
# (0 = Monday … 6 = Sunday); a report is due SURVEY_GRACE_DAYS after its period's last
# day; a count that moves by more than SURVEY_JUMP_FACTOR times from the previous report
# must be confirmed.
SURVEY_PERIOD_DAYS = env_int("SURVEY_PERIOD_DAYS", 7, minimum=1)
SURVEY_DUE_WEEKDAY = int(env_choice("SURVEY_DUE_WEEKDAY", "4", {str(day) for day in range(7)}))
SURVEY_GRACE_DAYS = env_int("SURVEY_GRACE_DAYS", 0, minimum=0)
SURVEY_JUMP_FACTOR = env_decimal("SURVEY_JUMP_FACTOR", "2")

CACHES = {
    "default": (
        # Django's RedisCache, one client object per connection pool instead of one per call (portal/cache.py).
        {"BACKEND": "portal.cache.PortalRedisCache", "LOCATION": REDIS_URL}
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "knox.auth.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.DefaultCursorPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "portal.api.exceptions.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
}
# Content-Security-Policy (django-csp): scripts and styles only from our own files —
# no 'unsafe-inline', so an injected <script> or style="" does nothing. Templates carry
# no inline scripts, event handlers or style attributes (static/js/portal.js,
# static/css/portal.css). data: images are Bootstrap's and Swagger UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# API tokens for clients (django-rest-knox): stored hashed, valid for this many hours.
REST_KNOX = {
    "TOKEN_TTL": datetime.timedelta(hours=env_int("API_TOKEN_TTL_HOURS", 8, minimum=1)),
    "TOKEN_LIMIT_PER_USER": 20,
    "AUTH_HEADER_PREFIX": "Token",
}
API_DOCS_PUBLIC = env_bool("API_DOCS_PUBLIC", default=False)
SPECTACULAR_SETTINGS = {
    "TITLE": "稳岗留工 portal API",
    "DESCRIPTION": "迎新春送温暖、稳岗留工: registrations, subsidy rules, entitlements, disbursements and dashboards.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from drf-spectacular-sidecar: government intranets have no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Several models have a `status`; name each choice set so the schema is stable.
    "ENUM_NAME_OVERRIDES": {"ProgrammeStatusEnum": "programs.choices.ProgrammeStatus"},
    # The schema maps every endpoint and field: for signed-in users unless API_DOCS_PUBLIC.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"]
    if API_DOCS_PUBLIC
    else ["rest_framework.permissions.IsAuthenticated"],
}

LOG_LEVEL = env_choice("LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"mask_pii": {"()": "core.logmask.MaskPIIFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["mask_pii"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        # One line per task success is noise in the worker log and in `make run`'s in-process mode.
        "celery.app.trace": {"level": "WARNING"},
    },
}
