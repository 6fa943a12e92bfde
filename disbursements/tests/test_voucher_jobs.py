"""Issuing vouchers and importing redemptions are Jobs on the common engine: claimed
once, resumed after a kill from their last commit, never issuing a voucher twice or
counting a redemption twice, and their result covers every attempt."""

import pytest
from django.db.models import Count

from accounts.choices import JobKind, JobState
from accounts.models import AuditEntry, Job
from accounts.services.job_recovery import jobs_sweep
from accounts.services.jobs import JOB_TASKS, job_create
from disbursements.choices import BatchStatus, LineStatus, VoucherStatus
from disbursements.models import PaymentLine, Voucher
from disbursements.services.vouchers import vouchers_import_redemptions, vouchers_issue
from disbursements.tasks import (
    import_redemptions_task,
    issue_job_start,
    issue_vouchers_task,
    redemptions_job_start,
)
from disbursements.tests.test_vouchers import hengshui  # noqa: F401 (fixture)
from tests.factories import approve

pytestmark = pytest.mark.django_db


class Killed(Exception):
    """Stands for the worker's SIGKILL: the attempt stops where it is."""


def _line_audits(batch) -> int:
    ids = [str(pk) for pk in batch.lines.values_list("pk", flat=True)]
    return AuditEntry.objects.filter(action="line_voucher", object_id__in=ids).count()


def test_both_kinds_are_registered_with_chinese_labels():
    assert JOB_TASKS[JobKind.ISSUE_VOUCHERS] is issue_vouchers_task
    assert JOB_TASKS[JobKind.IMPORT_REDEMPTIONS] is import_redemptions_task
    assert JobKind.ISSUE_VOUCHERS.label == "发放消费券" and JobKind.IMPORT_REDEMPTIONS.label == "导入消费券核销"


def test_an_issue_killed_after_a_chunk_resumes_and_issues_each_voucher_once(hengshui, settings):  # noqa: F811
    _programme, batch, officer, city, province, _ents = hengshui
    batch = approve(batch, officer, city, province)
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as in a worker
    job = job_create(kind=JobKind.ISSUE_VOUCHERS, requested_by=officer, params={"batch_id": batch.pk, "chunk": 2})
    calls = []

    def dies_after_the_first_chunk(done, total):
        calls.append(done)
        if done == 2:
            raise Killed

    with pytest.raises(Killed):
        vouchers_issue(batch=batch, acting_user=officer, job=job, progress=dies_after_the_first_chunk, chunk=2)
    assert Voucher.objects.count() == 2  # the first chunk is committed, with its checkpoint
    job.refresh_from_db()
    assert job.result == {"issued": 2}
    # The next attempt goes through the engine (claim, heartbeat, result).
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED)
    issue_vouchers_task(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.result["issued"] == 6 and job.message == "已发放 6 张消费券"
    assert Voucher.objects.count() == 6
    assert not PaymentLine.objects.filter(entitlement__voucher__isnull=True, batch=batch).exists()
    assert _line_audits(batch) == 6  # one audit row per line: none written twice
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RECONCILED
    # A late duplicate delivery, and an attempt that finds the batch already reconciled.
    issue_vouchers_task(job.pk)
    Job.objects.filter(pk=job.pk).update(state=JobState.QUEUED)
    issue_vouchers_task(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.result["issued"] == 6
    assert Voucher.objects.count() == 6 and _line_audits(batch) == 6


def test_issue_start_returns_the_live_job_and_refuses_an_unapproved_batch(hengshui, settings):  # noqa: F811
    from core.errors import ConflictError

    _programme, batch, officer, city, province, _ents = hengshui
    with pytest.raises(ConflictError):
        issue_job_start(batch=batch, acting_user=officer)
    batch = approve(batch, officer, city, province)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    job = issue_job_start(batch=batch, acting_user=officer)
    assert issue_job_start(batch=batch, acting_user=officer) == job  # a double click
    # Its worker died: the sweep re-queues it, and a new start does not return it as alive.
    from django.utils import timezone

    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, attempts=1, heartbeat_at=timezone.now() - timezone.timedelta(seconds=600)
    )
    again = issue_job_start(batch=batch, acting_user=officer)
    assert again.pk == job.pk and again.state == JobState.QUEUED
    assert jobs_sweep() == []  # already re-queued: nothing for beat


def test_a_redemption_import_killed_after_its_commit_counts_once(hengshui, settings, tmp_path):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    _programme, batch, officer, city, province, _ents = hengshui
    batch = approve(batch, officer, city, province)
    vouchers_issue(batch=batch, acting_user=officer)
    codes = list(Voucher.objects.order_by("id").values_list("code", flat=True)[:4])
    data = "券码,核销时间,核销商户\n" + "".join(f"{c},2021-02-2{i} 10:30:00,超市{i}\n" for i, c in enumerate(codes))
    settings.CELERY_TASK_ALWAYS_EAGER = False
    upload = SimpleUploadedFile("hx.csv", data.encode("utf-8-sig"), content_type="text/csv")
    job = redemptions_job_start(batch=batch, uploaded=upload, acting_user=officer)
    path = job.params["path"]
    import os
    import stat

    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    # The first attempt commits (with its checkpoint) and is killed before the job is done.
    vouchers_import_redemptions(path=path, acting_user=officer, job=job)
    job.refresh_from_db()
    assert job.state == JobState.QUEUED and job.result == {"committed": {"redeemed": 4}}
    import_redemptions_task(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.result["redeemed"] == 4, job.message
    assert job.message == "已导入 4 条核销记录，新核销 4 张"  # not "新核销 0 张", not 8
    assert Voucher.objects.filter(status=VoucherStatus.REDEEMED).count() == 4
    redeemed = AuditEntry.objects.filter(action="voucher_redeem").values("object_id").annotate(n=Count("id"))
    assert len(redeemed) == 4 and {r["n"] for r in redeemed} == {1}


def test_a_bad_redemption_file_fails_the_job_with_its_rows(hengshui, settings):  # noqa: F811
    from django.core.files.uploadedfile import SimpleUploadedFile

    _programme, batch, officer, city, province, _ents = hengshui
    batch = approve(batch, officer, city, province)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    upload = SimpleUploadedFile(
        "hx.csv", "券码,核销时间\nNOSUCHCODE234567,2021-02-20\n".encode(), content_type="text/csv"
    )
    job = redemptions_job_start(batch=batch, uploaded=upload, acting_user=officer)
    import_redemptions_task(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.FAILED and job.attempts == 1  # the user's mistake: no retry loop
    assert "未导入任何记录" in job.message and any("第 2 行" in e for e in job.errors)
    assert not PaymentLine.objects.filter(batch=batch, status=LineStatus.PAID).exists()


def test_their_messages_read_in_english():
    from django.utils import translation

    from accounts.job_messages import job_message

    with translation.override("en"):
        assert job_message("发放消费券：HB-VOU-131102-001") == "Issue vouchers: HB-VOU-131102-001"
        assert job_message("导入消费券核销：X-1") == "Import voucher redemptions: X-1"
        assert job_message("刷新统计") == "Refresh statistics"
        assert job_message("统计已刷新：HB-2021（12 个区县）") == "Statistics refreshed: HB-2021 (12 districts)"
        assert job_message("已发放 6 张消费券") == "6 vouchers issued"


def test_the_issue_command_writes_its_list_0600(hengshui, tmp_path):  # noqa: F811
    import os
    import stat

    from django.core.management import call_command

    _programme, batch, officer, city, province, _ents = hengshui
    batch = approve(batch, officer, city, province)
    out = tmp_path / "list.csv"
    call_command("issue_vouchers", batch.pk, out=str(out))
    assert Voucher.objects.count() == 6
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600  # names, ID numbers and phones
    assert out.read_bytes().decode("utf-8-sig").count("\r\n") == 7
