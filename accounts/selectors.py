from accounts.models import Job


def jobs_for_user(user):
    """A user sees the jobs they started; a superuser sees all."""
    qs = Job.objects.select_related("requested_by")
    if user.is_superuser:
        return qs
    return qs.filter(requested_by=user)


def job_as_dict(job: Job) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "kind_label": job.get_kind_display(),
        "state": job.state,
        "state_label": job.get_state_display(),
        "done": job.progress_done,
        "total": job.progress_total,
        "percent": job.percent,
        "message": job.message_text,
        "errors": job.errors[:50],
        "result": job.result,
        "result_file": job.result_file.url if job.result_file else None,
        "finished": job.finished,
        "attempts": job.attempts,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
