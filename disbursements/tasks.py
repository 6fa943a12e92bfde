"""Celery tasks of the entitlement computation (helper C's batch tasks live in batch_tasks.py).

Thin: a task takes a Job id, claims the Job row (`job_run`), and calls
`disbursements.entitlements.entitlements_compute`, which works district by district —
one transaction per district, progress reported per district. The computation is
idempotent, so a task delivered twice or killed half way and run again ends the same.
"""

from celery import shared_task
from django.db import transaction

from accounts.choices import JobKind, JobState
from accounts.models import Job
from accounts.services import job_create, job_enqueue, job_run
from disbursements.entitlements import entitlements_compute
from portal.lib.money import format_yuan
from programs.choices import ProgrammeStatus
from programs.models import Programme
from regions.models import Region


def compute_start(
    *, programme: Programme, district: Region | None = None, acting_user=None, force: bool = False
) -> Job:
    """A compute Job for `programme` (or one district), queued after commit.

    While a compute job of the same programme and district is queued or running, that
    job is returned instead of a second one: pressing the button twice, an import
    finishing during the nightly run, … all end up in one run.
    """
    params = {
        "programme_id": programme.pk,
        "programme": programme.code,
        "district": district.code if district else None,
        "force": force,
    }
    with transaction.atomic():
        # Serialize the check-then-create per programme (a row lock on the programme).
        Programme.objects.select_for_update().filter(pk=programme.pk).first()
        existing = (
            Job.objects.filter(kind=JobKind.COMPUTE, state__in=[JobState.QUEUED, JobState.RUNNING])
            .filter(params__programme_id=programme.pk, params__district=params["district"])
            .order_by("created_at")
            .first()
        )
        if existing is not None:
            return existing
        where = f"{district.name}" if district else "全部区县"
        job = job_create(
            kind=JobKind.COMPUTE, requested_by=acting_user, params=params, message=f"排队中：{programme.code} {where}"
        )
        job_enqueue(job, compute_entitlements_task)
    return job


@shared_task(name="disbursements.compute_entitlements", acks_late=True)
def compute_entitlements_task(job_id: int) -> None:
    def work(job, progress):
        programme = Programme.objects.get(pk=job.params["programme_id"])
        district = Region.objects.filter(code=job.params.get("district") or "").first()
        names = dict(Region.objects.values_list("code", "name"))

        def on_district(done: int, total: int, code: str) -> None:
            if progress.job.progress_total != total:
                progress.set_total(total)
            progress.advance(
                done, message=f"已完成 {done}/{total} 个区县（{names.get(code, code)}）", force=done == total
            )

        result = entitlements_compute(
            programme=programme,
            district=district,
            acting_user=job.requested_by,
            progress=on_district,
            force=bool(job.params.get("force")),
        )
        totals = result.totals()
        return {
            "message": f"计算完成：写入 {result.written} 条，撤销 {result.withdrawn} 条，待复核 {result.flagged} 条",
            "programme": programme.code,
            "district": district.code if district else None,
            "written": result.written,
            "withdrawn": result.withdrawn,
            "flagged": result.flagged,
            "skipped": sum(1 for d in result.districts.values() if d.get("skipped")),
            "districts": result.districts,
            "count": totals["count"],
            "amount": format_yuan(totals["amount"]),
            "seconds": round(result.seconds, 2),
        }

    job_run(job_id, work)


@shared_task(name="disbursements.recompute_nightly")
def recompute_nightly_task() -> list[int]:
    """Beat, every night: recompute every active programme (catches anything a missed
    signal or a manual database fix left behind)."""
    active = Programme.objects.filter(status=ProgrammeStatus.ACTIVE)
    return [compute_start(programme=p, force=True).pk for p in active]


def enqueue_recompute(programme_id: int, district_code: str | None = None) -> Job | None:
    """Called when an import has finished (beneficiaries.signals.import_finished)."""
    programme = Programme.objects.filter(pk=programme_id).first()
    if programme is None or programme.status == ProgrammeStatus.CLOSED:
        return None
    district = Region.objects.filter(code=district_code).first() if district_code else None
    return compute_start(programme=programme, district=district)


def on_import_finished(sender, *, programme_id: int, district_code: str | None = None, **kwargs) -> None:
    """Receiver of beneficiaries.signals.import_finished (connected in apps.ready)."""
    enqueue_recompute(programme_id, district_code)
