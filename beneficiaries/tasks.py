"""Celery tasks of beneficiaries: thin wrappers that run an import Job.

Both take the Job id only; the Job row holds the parameters and, through
accounts.services.job_run's conditional claim, makes a redelivered task (acks_late)
a no-op once another delivery has the job. A run that died half way left nothing
behind (the import writes in one transaction) and simply runs again; one that died
after its commit finds the checkpoint written in that transaction and only finishes.
"""

from celery import shared_task

from accounts.choices import JobKind
from accounts.services.jobs import job_run, job_task_register
from beneficiaries.importer.uploads import import_job_work, import_uploads_purge


@shared_task(name="beneficiaries.import_workers", acks_late=True)
def import_workers(job_id: int) -> None:
    job_run(job_id, import_job_work)


@shared_task(name="beneficiaries.import_employers", acks_late=True)
def import_employers(job_id: int) -> None:
    job_run(job_id, import_job_work)


job_task_register(JobKind.IMPORT_WORKERS, import_workers)
job_task_register(JobKind.IMPORT_EMPLOYERS, import_employers)


@shared_task(name="beneficiaries.purge_import_uploads")
def purge_import_uploads() -> int:
    """Delete uploaded files and reports older than a week (they carry personal data)."""
    return import_uploads_purge()
