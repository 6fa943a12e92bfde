"""Settings: strict readers stop start-up on a bad value; production variables pass --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 30 + "production-like-secret-key-with-enough-entropy-0123456789",
    "PII_KEYS": "k1:" + "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "PII_INDEX_KEY": "index-key-production-like",
    "ALLOWED_HOSTS": "portal.example.gov.cn",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/portal",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def manage(*args, env: dict) -> subprocess.CompletedProcess:
    # Only the basics of the environment: the test process's own settings variables must not leak in.
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_with_production_variables_reports_nothing():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("SESSION_COOKIE_AGE", "soon", "SESSION_COOKIE_AGE='soon' is not a whole number"),
        ("DATABASE_URL", "mongodb://x", "DATABASE_URL='mongodb://x' cannot be used"),
        ("DATABASE_REPLICA_URL", "mongodb://x", "DATABASE_REPLICA_URL='mongodb://x' cannot be used"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL='LOUD' must be one of"),
        ("SECRET_KEY", "", "SECRET_KEY must be set"),
        ("PII_KEYS", "", "PII_KEYS and PII_INDEX_KEY must be set"),
        ("PDF_FONT", "/nonexistent/font.ttf", "PDF_FONT='/nonexistent/font.ttf' is not a file"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(name, value, message):
    result = manage("check", env={**PRODUCTION, name: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_secret_from_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("file-secret-" + "y" * 50)
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"} | {"SECRET_KEY_FILE": str(secret)}
    result = manage(
        "shell", "--no-imports", "-c", "from django.conf import settings; print(settings.SECRET_KEY)", env=env
    )
    assert result.stdout.strip() == "file-secret-" + "y" * 50, result.stderr


def test_without_redis_tasks_run_in_process_and_with_it_they_go_to_the_broker():
    code = "from django.conf import settings; print(settings.CELERY_TASK_ALWAYS_EAGER, settings.CELERY_BROKER_URL)"
    no_redis = {k: v for k, v in PRODUCTION.items() if k != "REDIS_URL"}
    assert manage("shell", "--no-imports", "-c", code, env=no_redis).stdout.split() == ["True", "memory://localhost/"]
    assert manage("shell", "--no-imports", "-c", code, env=PRODUCTION).stdout.split() == [
        "False",
        "redis://127.0.0.1:6379/0",
    ]
