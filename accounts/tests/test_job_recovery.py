"""The recovery mechanism every job kind shares (accounts.services.jobs and job_recovery): failures recorded
over a fresh connection, attempts counted, dead jobs re-queued by the sweep, by a
restarted worker and by the owner's 重试. (The fault suite in tests/faults/ does the
same with real processes, a real PostgreSQL restart and a real Redis restart.)"""

import os
import subprocess
import sys
import time
from datetime import timedelta

import psycopg2
import pytest
from celery.exceptions import Reject
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services import jobs
from accounts.services.job_recovery import jobs_sweep
from accounts.services.jobs import Heartbeat, job_claim, job_create, job_failed, job_run


def _terminate_own_backend():
    """What a PostgreSQL restart does to a worker: its connection is cut from the server."""
    pid = connection.connection.info.backend_pid
    db = connection.settings_dict
    other = psycopg2.connect(
        dbname=db["NAME"], user=db["USER"] or "postgres", host=db["HOST"] or "127.0.0.1", port=db["PORT"] or 5432
    )
    other.autocommit = True
    with other.cursor() as cur:
        cur.execute("SELECT pg_terminate_backend(%s)", [pid])
    other.close()


@pytest.fixture
def sent(monkeypatch):
    """Messages the services send, instead of a broker."""
    messages = []
    monkeypatch.setattr(jobs, "_send", lambda task, job_id: messages.append((task.name, job_id)))
    return messages


@pytest.fixture
def real_worker_mode(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.JOB_RECORD_RETRY_SECONDS = 0


def _stale(settings, extra: int = 1):
    return timezone.now() - timedelta(seconds=settings.JOB_STALE_SECONDS + extra)


@pytest.mark.django_db(transaction=True)
def test_a_failure_is_recorded_on_a_fresh_connection_after_the_database_dropped_ours():
    job = job_claim(job_create(kind=JobKind.DEMO, requested_by=None).pk)
    _terminate_own_backend()
    job_failed(job, message="区县 130110 计算出错")  # would raise "connection already closed"
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.message == "区县 130110 计算出错"


@pytest.mark.django_db(transaction=True)
def test_a_database_error_costs_one_attempt_and_requeues_the_job(real_worker_mode, sent):
    job = job_create(kind=JobKind.DEMO, requested_by=None)

    def work(job, progress):
        _terminate_own_backend()
        Job.objects.count()  # the broken connection raises here

    with pytest.raises(OperationalError):
        job_run(job.pk, work)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempts == 1
    assert "第 1 次尝试中断（数据库连接中断）" in job.message
    assert sent == [("accounts.self_check", job.pk)]


@pytest.mark.django_db(transaction=True)
def test_after_the_last_attempt_the_job_fails_with_a_message_for_its_owner(real_worker_mode, sent, settings):
    job = job_create(kind=JobKind.DEMO, requested_by=None)
    Job.objects.filter(pk=job.pk).update(attempts=settings.JOB_MAX_ATTEMPTS - 1)

    def work(job, progress):
        raise OperationalError("server closed the connection unexpectedly")

    with pytest.raises(OperationalError):
        job_run(job.pk, work)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.attempts == settings.JOB_MAX_ATTEMPTS
    assert f"已尝试 {settings.JOB_MAX_ATTEMPTS} 次" in job.message and "重试" in job.message
    assert sent == []


@pytest.mark.django_db(transaction=True)
def test_a_state_that_cannot_be_recorded_is_never_acked(real_worker_mode, monkeypatch):
    job = job_create(kind=JobKind.DEMO, requested_by=None)

    def unrecordable(*args, **kwargs):
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(jobs, "job_done", unrecordable)
    with pytest.raises(Reject) as rejected:
        job_run(job.pk, lambda job, progress: {"message": "完成"})
    assert rejected.value.requeue is True  # the message goes back to the queue


@pytest.mark.django_db
def test_the_sweep_requeues_dead_jobs_and_resends_lost_messages(settings, django_capture_on_commit_callbacks, sent):
    stale = _stale(settings)
    dead = job_create(kind=JobKind.BUILD_BATCHES, requested_by=None)
    Job.objects.filter(pk=dead.pk).update(state=JobState.RUNNING, heartbeat_at=stale, attempts=1)
    lost = job_create(kind=JobKind.IMPORT_WORKERS, requested_by=None)
    Job.objects.filter(pk=lost.pk).update(created_at=stale)
    alive = job_create(kind=JobKind.COMPUTE, requested_by=None)
    Job.objects.filter(pk=alive.pk).update(state=JobState.RUNNING, heartbeat_at=timezone.now(), attempts=1)
    waiting = job_create(kind=JobKind.EXPORT_BATCH, requested_by=None)  # queued just now
    with django_capture_on_commit_callbacks(execute=True):
        assert sorted(jobs_sweep()) == sorted([dead.pk, lost.pk])
    assert sorted(sent) == sorted([("disbursements.build_batches", dead.pk), ("beneficiaries.import_workers", lost.pk)])
    dead.refresh_from_db()
    assert dead.state == JobState.QUEUED and dead.attempts == 1 and "重新排队" in dead.message
    alive.refresh_from_db()
    waiting.refresh_from_db()
    assert (alive.state, waiting.state) == (JobState.RUNNING, JobState.QUEUED)
    # Sent again just now: the next sweep leaves them alone.
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == []


@pytest.mark.django_db
def test_a_running_job_whose_worker_is_gone_is_recovered_before_the_threshold(settings, sent):
    forty_s_ago = timezone.now() - timedelta(seconds=40)
    job = job_create(kind=JobKind.COMPUTE, requested_by=None)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, heartbeat_at=forty_s_ago, attempts=1, worker="celery@a|boot1|77"
    )
    assert jobs_sweep(live_workers={"celery@a|boot1"}) == []  # its worker lives: wait for the threshold
    assert jobs_sweep(live_workers={"celery@b|boot9"}) == [job.pk]


@pytest.mark.django_db
def test_the_sweep_fails_a_dead_job_out_of_attempts(settings, sent):
    job = job_create(kind=JobKind.IMPORT_EMPLOYERS, requested_by=None)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, heartbeat_at=_stale(settings), attempts=settings.JOB_MAX_ATTEMPTS
    )
    assert jobs_sweep() == [job.pk]
    job.refresh_from_db()
    assert job.state == JobState.FAILED and "已停止自动重试" in job.message and job.finished_at
    assert sent == []


@pytest.mark.django_db
def test_a_restarted_worker_recovers_what_its_earlier_start_held(sent, django_capture_on_commit_callbacks):
    from accounts.worker import recover_jobs_of_earlier_boots

    mine = job_create(kind=JobKind.BUILD_BATCHES, requested_by=None)
    Job.objects.filter(pk=mine.pk).update(
        state=JobState.RUNNING, heartbeat_at=timezone.now(), attempts=1, worker="celery@w1|old|12"
    )
    other = job_create(kind=JobKind.BUILD_BATCHES, requested_by=None)
    Job.objects.filter(pk=other.pk).update(
        state=JobState.RUNNING, heartbeat_at=timezone.now(), attempts=1, worker="celery@w2|boot|12"
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert recover_jobs_of_earlier_boots("celery@w1|new") == [mine.pk]
    assert sent == [("disbursements.build_batches", mine.pk)]
    other.refresh_from_db()
    assert other.state == JobState.RUNNING


@pytest.mark.django_db
def test_a_job_held_by_a_dead_pool_process_of_this_worker_can_be_claimed(monkeypatch):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    monkeypatch.setenv("PORTAL_WORKER_ID", "celery@w1|boot")
    job = job_create(kind=JobKind.DEMO, requested_by=None)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, heartbeat_at=timezone.now(), attempts=1, worker=f"celery@w1|boot|{os.getppid()}"
    )
    assert job_claim(job.pk) is None  # a live holder keeps it
    Job.objects.filter(pk=job.pk).update(worker=f"celery@w1|boot|{dead.pid}")
    claimed = job_claim(job.pk)
    assert claimed is not None and claimed.attempts == 2 and claimed.worker == f"celery@w1|boot|{os.getpid()}"


@pytest.mark.django_db(transaction=True)
def test_a_running_job_beats_its_heartbeat_while_silent(settings):
    settings.JOB_HEARTBEAT_SECONDS = 0.2
    job = job_claim(job_create(kind=JobKind.DEMO, requested_by=None).pk)
    old = timezone.now() - timedelta(hours=1)
    Job.objects.filter(pk=job.pk).update(heartbeat_at=old)
    with Heartbeat(job.pk):
        time.sleep(0.8)
    job.refresh_from_db()
    assert job.heartbeat_at > timezone.now() - timedelta(seconds=2)


@pytest.mark.django_db
def test_the_owner_retries_a_failed_job_and_nobody_else_sees_it(client, officer_luquan, officer_cangzhou):
    job = job_create(kind=JobKind.DEMO, requested_by=officer_luquan, params={"steps": 1, "delay": 0})
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED, message="任务已尝试 5 次仍未完成", attempts=5)
    client.force_login(officer_luquan)
    page = client.get(reverse("accounts:job_detail", args=[job.pk])).content.decode()
    assert "任务已尝试 5 次仍未完成" in page and reverse("accounts:job_retry", args=[job.pk]) in page
    client.force_login(officer_cangzhou)
    assert client.post(reverse("accounts:job_retry", args=[job.pk])).status_code == 404
    client.force_login(officer_luquan)
    response = client.post(reverse("accounts:job_retry", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.attempts == 0  # queued after commit (never, in this test)


@pytest.mark.django_db
def test_a_live_job_is_not_retried_by_hand(client, officer_luquan):
    job = job_create(kind=JobKind.DEMO, requested_by=officer_luquan)
    job_claim(job.pk)
    client.force_login(officer_luquan)
    client.post(reverse("accounts:job_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.attempts == 1


@pytest.mark.django_db
def test_a_job_that_kills_its_process_every_time_stops_after_the_last_attempt(settings):
    job = job_create(kind=JobKind.DEMO, requested_by=None)
    Job.objects.filter(pk=job.pk).update(attempts=settings.JOB_MAX_ATTEMPTS)
    ran = []
    job_run(job.pk, lambda job, progress: ran.append(job.pk))
    job.refresh_from_db()
    assert ran == [] and job.state == JobState.FAILED and "已停止自动重试" in job.message


@pytest.mark.django_db
def test_finished_system_jobs_are_purged_after_their_days_and_user_jobs_are_kept(settings):
    from django.utils import timezone

    from accounts.services.job_recovery import jobs_purge

    settings.JOB_KEEP_DAYS = 30
    now = timezone.now()
    old, recent = now - timezone.timedelta(days=31), now - timezone.timedelta(days=29)

    def job(kind, state, finished_at):
        made = job_create(kind=kind, requested_by=None)
        Job.objects.filter(pk=made.pk).update(state=state, finished_at=finished_at)
        return made.pk

    gone = [job(JobKind.REFRESH_ROLLUPS, JobState.DONE, old), job(JobKind.SEND_SMS, JobState.FAILED, old)]
    kept = [
        job(JobKind.COMPUTE_SIGNALS, JobState.DONE, recent),  # not old enough
        job(JobKind.COMPUTE_SIGNALS, JobState.RUNNING, old),  # not finished
        job(JobKind.IMPORT_WORKERS, JobState.DONE, old),  # a user's job: its record
        job(JobKind.BUILD_BATCHES, JobState.DONE, old),
    ]
    assert jobs_purge(now=now) == 2
    assert not Job.objects.filter(pk__in=gone).exists()
    assert Job.objects.filter(pk__in=kept).count() == 4
