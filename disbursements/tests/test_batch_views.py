"""Batch pages: scope (404 outside), the chain through the web, files, results, alarms."""

import pytest
from django.urls import reverse

from accounts.models import AuditEntry
from disbursements.choices import BatchStatus
from disbursements.models import Batch, BatchExport
from disbursements.services.bank_results import example_result_csv
from disbursements.services.batches import batches_build
from tests.factories import approve, make_entitlements, make_programme, make_rule

pytestmark = pytest.mark.django_db


@pytest.fixture
def batch(officer_luquan):
    programme = make_programme("HB-V")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 4, start=100)
    return batches_build(programme=programme, acting_user=officer_luquan)[0]


def test_list_and_detail_within_scope(
    client, batch, officer_luquan, officer_cangzhou, city_cangzhou, city_shijiazhuang
):
    client.force_login(officer_luquan)
    page = client.get(reverse("disbursements:batch_list"))
    assert page.status_code == 200 and batch.number in page.content.decode()
    detail = client.get(reverse("disbursements:batch_detail", args=[batch.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "410102********" in html and "6222 **** ****" in html  # masked only
    assert 'data-action="submit"' in html
    for user in (officer_cangzhou, city_cangzhou):
        client.force_login(user)
        assert client.get(reverse("disbursements:batch_detail", args=[batch.pk])).status_code == 404
        assert batch.number not in client.get(reverse("disbursements:batch_list")).content.decode()
        assert client.post(reverse("disbursements:batch_action", args=[batch.pk, "submit"])).status_code == 404
    client.force_login(city_shijiazhuang)
    assert client.get(reverse("disbursements:batch_detail", args=[batch.pk])).status_code == 200


def test_chain_through_the_web(client, batch, officer_luquan, city_shijiazhuang, province_staff):
    client.force_login(city_shijiazhuang)
    response = client.post(reverse("disbursements:batch_action", args=[batch.pk, "review"]), follow=True)
    assert "只有区县已提交的批次可以复核" in response.content.decode()
    client.force_login(officer_luquan)
    client.post(reverse("disbursements:batch_action", args=[batch.pk, "submit"]), {"comment": "请复核"})
    client.force_login(city_shijiazhuang)
    response = client.post(
        reverse("disbursements:batch_action", args=[batch.pk, "return"]), {"comment": ""}, follow=True
    )
    assert "必须填写退回原因" in response.content.decode()
    client.post(reverse("disbursements:batch_action", args=[batch.pk, "review"]), {"comment": "无误"})
    client.force_login(province_staff)
    response = client.post(reverse("disbursements:batch_action", args=[batch.pk, "approve"]), follow=True)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.APPROVED
    html = response.content.decode()
    assert "审批通过" in html and "请复核" in html and "无误" in html  # steps with comments


def test_export_download_and_results_through_the_web(
    client, batch, officer_luquan, city_shijiazhuang, province_staff, tmp_path, django_capture_on_commit_callbacks
):
    batch = approve(batch, officer_luquan, city_shijiazhuang, province_staff)
    client.force_login(officer_luquan)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("disbursements:batch_export", args=[batch.pk]), {"fmt": "csv", "encoding": "gb18030"})
    export = BatchExport.objects.get(batch=batch)
    assert export.encoding == "gb18030"
    response = client.get(reverse("disbursements:export_download", args=[export.pk]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode("gb18030")
    assert "合计" in body
    assert AuditEntry.objects.filter(action="bank_file_download", user=officer_luquan).exists()
    client.force_login(city_shijiazhuang)  # the city may see the batch but not take its file
    assert client.get(reverse("disbursements:export_download", args=[export.pk])).status_code == 404

    batch.refresh_from_db()
    path = tmp_path / "r.csv"
    path.write_text(example_result_csv(batch, {1: "已销户"}), encoding="utf-8")
    client.force_login(officer_luquan)
    with open(path, "rb") as fh, django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("disbursements:batch_results", args=[batch.pk]), {"file": fh})
    batch.refresh_from_db()
    assert batch.status == BatchStatus.RECONCILED
    failed = batch.lines.get(seq=1)
    response = client.post(
        reverse("disbursements:line_correct", args=[batch.pk, failed.pk]),
        {"account": "6217000099998888", "bank_name": "中国银行"},
        follow=True,
    )
    assert "已更正账号" in response.content.decode()
    response = client.post(reverse("disbursements:batch_supplement", args=[batch.pk]), follow=True)
    supplement = Batch.objects.get(parent=batch)
    assert supplement.number in response.content.decode()
    # The batch's own figures count the failed line; reconciliation counts it no more
    # (it is pending in the 补发 batch): the page says so beside both figures.
    html = client.get(reverse("disbursements:batch_detail", args=[batch.pk])).content.decode()
    assert "data-reissued" in html and "其中已更正并补发" in html
    assert "只计失败且尚未补发的金额" in html


def test_reconciliation_page_and_alarm(client, batch, officer_luquan, city_shijiazhuang):
    client.force_login(city_shijiazhuang)
    page = client.get(reverse("disbursements:reconciliation"))
    assert page.status_code == 200 and "全部平衡" in page.content.decode()
    Batch.objects.filter(pk=batch.pk).update(total="1.00")
    page = client.get(reverse("disbursements:reconciliation"))
    assert "对账不平" in page.content.decode()
    assert "data-recon-alarm" in client.get(reverse("disbursements:batch_list")).content.decode()
    assert "data-recon-alarm" in client.get(reverse("disbursements:batch_detail", args=[batch.pk])).content.decode()


def test_build_through_the_web_queues_a_job(client, batch, officer_luquan, django_capture_on_commit_callbacks):
    from tests.factories import make_entitlement

    make_entitlement(batch.programme, batch.lines.first().entitlement.rule, n=999)
    client.force_login(officer_luquan)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("disbursements:batch_build"), {"programme": "HB-V", "district": "130110"})
    assert response.status_code == 302
    response = client.get(response.url)
    assert response.status_code == 200
    assert Batch.objects.filter(programme=batch.programme).count() == 2  # eager in tests


def test_an_officer_retries_a_stuck_job(client, batch, officer_luquan, django_capture_on_commit_callbacks):
    from django.utils import timezone

    from accounts.choices import JobKind, JobState
    from accounts.models import Job
    from accounts.services.jobs import job_create
    from disbursements.tasks import retry_stuck_jobs, stuck_jobs
    from tests.factories import make_entitlement

    make_entitlement(batch.programme, batch.lines.first().entitlement.rule, n=998)
    # A build whose worker died: running, heartbeat long gone.
    job = job_create(
        kind=JobKind.BUILD_BATCHES,
        requested_by=officer_luquan,
        params={"programme_id": batch.programme_id, "district": None},
    )
    Job.objects.filter(pk=job.pk).update(
        state=JobState.RUNNING, heartbeat_at=timezone.now() - timezone.timedelta(hours=1)
    )
    assert list(stuck_jobs()) == [Job.objects.get(pk=job.pk)]
    client.force_login(officer_luquan)
    assert "任务卡住了" in client.get(reverse("disbursements:batch_list")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("disbursements:job_retry", args=[job.pk]))
    job.refresh_from_db()
    assert job.state == JobState.DONE and job.attempts == 1
    assert Batch.objects.filter(programme=batch.programme).count() == 2
    assert retry_stuck_jobs() == []  # nothing left for beat


def test_a_second_build_request_while_one_is_queued_returns_the_same_job(batch, officer_luquan):
    from disbursements.tasks import build_job_start

    first = build_job_start(programme=batch.programme, acting_user=officer_luquan)  # on_commit never fires here
    second = build_job_start(programme=batch.programme, acting_user=officer_luquan)
    assert first.pk == second.pk
    from regions.models import Region

    other = build_job_start(
        programme=batch.programme, district=Region.objects.get(code="130110"), acting_user=officer_luquan
    )
    assert other.pk != first.pk


def test_list_queries_do_not_grow_with_batches(client, province_staff, superuser):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    programme = make_programme("HB-Q")
    rule = make_rule(programme, "sjz", region="130100")

    def count_queries():
        client.force_login(province_staff)
        client.get(reverse("disbursements:batch_list"))  # warm the cached alarms
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(reverse("disbursements:batch_list")).status_code == 200
        return len(ctx.captured_queries)

    make_entitlements(programme, rule, 2, district="130102", start=100)
    batches_build(programme=programme, acting_user=superuser)
    few = count_queries()
    for i, code in enumerate(["130104", "130105", "130107", "130108"]):
        make_entitlements(programme, rule, 2, district=code, start=200 + 10 * i)
    batches_build(programme=programme, acting_user=superuser)
    assert Batch.objects.filter(programme=programme).count() == 5
    assert count_queries() == few <= 12
