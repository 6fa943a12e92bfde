"""/healthz and `manage.py check_services`: 200 only when the database, the broker, a
live worker and beat are fine; otherwise 503 naming what is down. No login, no data."""

import time

import pytest
from django.core.management import call_command

from accounts import worker
from core.env import redact_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_keys():
    client = worker.redis_client()
    client.delete(worker.SWEEP_KEY, *client.keys(worker.WORKER_PATTERN))
    yield client
    client.delete(worker.SWEEP_KEY, *client.keys(worker.WORKER_PATTERN))


def _alive(client, *, sweep_age: float = 1.0):
    client.set(worker.WORKER_KEY.format("celery@test|boot1"), str(time.time()), ex=30)
    client.set(worker.SWEEP_KEY, str(time.time() - sweep_age))


def test_healthz_is_200_when_everything_runs_without_login(client, redis_keys):
    _alive(redis_keys)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "broker": "ok", "worker": "ok", "beat": "ok"},
    }
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_healthz_names_a_missing_worker_and_a_silent_beat(client, redis_keys, settings):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["worker", "beat"]
    _alive(redis_keys, sweep_age=3 * settings.JOB_SWEEP_SECONDS + 60)  # beat stopped a while ago
    response = client.get("/healthz")
    assert response.status_code == 503 and response.json()["down"] == ["beat"]


def test_healthz_is_503_when_the_broker_does_not_answer(client, settings):
    settings.REDIS_URL = "redis://:secret@127.0.0.1:1/0"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker", "worker", "beat"]
    assert b"secret" not in response.content and b"127.0.0.1" not in response.content


def test_check_services_says_what_is_down_without_the_password(settings, capsys):
    settings.REDIS_URL = "redis://:secret@127.0.0.1:1/0"
    with pytest.raises(SystemExit) as exit_:
        call_command("check_services")
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert "DOWN broker" in out and "redis://:***@127.0.0.1:1/0" in out and "secret" not in out
    assert "ok   database" in out


def test_check_services_passes_when_everything_runs(redis_keys, capsys):
    _alive(redis_keys)
    call_command("check_services")
    out = capsys.readouterr().out
    assert [line.split()[:2] for line in out.strip().splitlines()] == [
        ["ok", "database"],
        ["ok", "broker"],
        ["ok", "worker"],
        ["ok", "beat"],
    ]


def test_no_url_password_reaches_a_message():
    assert redact_url("postgres://portal:s3cr:et@db:5432/portal") == "postgres://portal:***@db:5432/portal"
    assert redact_url("redis://:pw@redis:6379/0 and amqp://u:p@h//") == "redis://:***@redis:6379/0 and amqp://u:***@h//"
    assert redact_url("postgres://postgres@127.0.0.1:5432/portal") == "postgres://postgres@127.0.0.1:5432/portal"


def test_a_url_password_is_masked_in_logs():
    from core.logmask import mask_text

    assert mask_text("cannot connect to postgres://portal:hunter22@db/portal") == (
        "cannot connect to postgres://portal:***@db/portal"
    )


def test_database_url_that_points_nowhere_stops_migrate_with_one_clear_line():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "DEBUG": "true", "DATABASE_URL": "postgres://portal:hunter22@127.0.0.1:1/nowhere"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    run = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode != 0
    output = run.stdout + run.stderr
    assert output.count("DATABASE_URL: PostgreSQL 127.0.0.1:1/nowhere does not answer") == 1
    assert "hunter22" not in output and "Traceback" not in output
