"""The named Celery queues (CELERY_TASK_ROUTES in portal/settings.py): every task of the
portal lands on import, compute, export or default; a worker started without -Q takes
all four; a job sent again by the sweep or the 重试 button lands on the queue of its
first message; the districts of a fanned-out computation follow their parent."""

from datetime import timedelta

import pytest
from celery import current_app
from django.utils import timezone

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services.job_recovery import job_retry, jobs_sweep
from accounts.services.jobs import JOB_TASKS, job_create, job_enqueue

pytestmark = pytest.mark.django_db

# What each job kind's task must be routed to (docs/operations.md "Queues").
KIND_QUEUES = {
    JobKind.IMPORT_EMPLOYERS: "import",
    JobKind.IMPORT_WORKERS: "import",
    JobKind.IMPORT_RESULTS: "import",
    JobKind.IMPORT_REDEMPTIONS: "import",
    JobKind.COMPUTE: "compute",
    JobKind.BUILD_BATCHES: "compute",
    JobKind.REFRESH_ROLLUPS: "compute",
    JobKind.COMPUTE_SIGNALS: "compute",
    JobKind.EXPORT_BATCH: "export",
    JobKind.ISSUE_VOUCHERS: "export",
    JobKind.SEND_SMS: "default",
    JobKind.DEMO: "default",
}


def _queue_of(task_name: str) -> str:
    return current_app.amqp.router.route({}, task_name)["queue"].name


@pytest.fixture
def messages(monkeypatch, settings):
    """The messages the portal sends, as (task name, queue, args), caught where Celery
    hands them to the broker (after routing), with a real, non-eager app."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent = []

    def send_task_message(producer, name, message, **options):
        sent.append((name, options["queue"].name if hasattr(options["queue"], "name") else options["queue"], message))

    monkeypatch.setattr(current_app.amqp, "send_task_message", send_task_message)
    return sent


def test_a_worker_without_q_consumes_the_four_queues():
    assert sorted(current_app.amqp.queues) == ["compute", "default", "export", "import"]


def test_every_job_kind_has_a_task_on_its_queue():
    # Every kind that has a task is listed here: a new kind must be given a queue on purpose.
    assert set(JOB_TASKS) == {str(kind) for kind in KIND_QUEUES if str(kind) in JOB_TASKS}
    assert {str(k) for k in KIND_QUEUES} >= set(JOB_TASKS)
    for kind, task in JOB_TASKS.items():
        assert _queue_of(task.name) == KIND_QUEUES[kind], kind


def test_every_portal_task_goes_to_one_of_the_four_queues():
    current_app.loader.import_default_modules()
    names = [n for n in current_app.tasks if not n.startswith("celery.")]
    assert len(names) > 20
    queues = {name: _queue_of(name) for name in names}
    assert set(queues.values()) == {"default", "import", "compute", "export"}
    # Routes name real tasks: a renamed task would silently fall back to default.
    from django.conf import settings

    assert set(settings.CELERY_TASK_ROUTES) <= set(names)
    assert queues["disbursements.compute_district"] == "compute"
    assert queues["accounts.sweep_jobs"] == "default"


def test_a_job_and_its_resends_go_to_the_same_queue(messages, django_capture_on_commit_callbacks):
    from disbursements.tasks import export_batch_task

    with django_capture_on_commit_callbacks(execute=True):
        job = job_enqueue(
            job_create(kind=JobKind.EXPORT_BATCH, requested_by=None, params={"batch_id": 1}), export_batch_task
        )
    # Its worker died while running it: beat's sweep puts it back in the queue.
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1), attempts=1
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert jobs_sweep() == [job.pk]
    # Then it failed for good, and its owner presses 重试.
    Job.objects.filter(pk=job.pk).update(state=JobState.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        job_retry(job=Job.objects.get(pk=job.pk), acting_user=None)
    assert [(name, queue) for name, queue, _ in messages] == [("disbursements.export_batch", "export")] * 3


def test_a_fanned_out_computation_sends_its_districts_to_its_own_queue(
    messages, django_capture_on_commit_callbacks, monkeypatch
):
    """The districts follow the queue their parent was taken from (a deployment may run
    a computation on a queue of its own); without one, the route (compute)."""
    from disbursements import tasks

    job = job_create(kind=JobKind.COMPUTE, requested_by=None, params={"programme_id": 1})
    tasks._fan_out(job.pk, ["130110", "130903"], "compute-big")
    tasks._fan_out(job.pk, ["130723"], None)
    assert [(name, queue, list(message.body[0])) for name, queue, message in messages] == [
        ("disbursements.compute_district", "compute-big", [job.pk, "130110"]),
        ("disbursements.compute_district", "compute-big", [job.pk, "130903"]),
        ("disbursements.compute_district", "compute", [job.pk, "130723"]),
    ]
