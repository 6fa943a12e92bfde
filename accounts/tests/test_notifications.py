"""The notification service and its triggers (issue 17, point 3): the outbox records what
was sent to whom by which channel, each event is told once (a retried job tells nobody
twice), after commit only, to the people in whose scope it lies; the texts carry a masked
name at most; the SMS backend is chosen by settings and retried."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import translation

from accounts.choices import NotificationChannel, NotificationEvent, NotificationStatus
from accounts.models import Notification
from accounts.notification_texts import render_text
from accounts.services.notifications import in_app, notify, sms_send, unread_count
from beneficiaries import pii
from beneficiaries.services.employers import employer_return
from disbursements.services.bank_results import batch_import_results, example_result_csv
from disbursements.services.batches import batch_return, batch_review, batch_submit, batches_build
from disbursements.services.payment_files import batch_export
from tests.factories import approve, make_entitlements, make_person, make_programme, make_rule, make_user

pytestmark = pytest.mark.django_db
E, C = NotificationEvent, NotificationChannel


def _message(user, key="k", **params):
    return in_app(
        event=E.BATCH_RESULTS,
        key=key,
        user=user,
        params={"batch": "B1", "paid": 1, "failed": 0, "pending": 0, **params},
    )


# --------------------------------------------------------------------------- the outbox


def test_written_after_commit_only_and_once_per_key(officer_luquan, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notify([_message(officer_luquan)])
            assert not Notification.objects.exists()  # nothing before the commit
    assert Notification.objects.count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        notify([_message(officer_luquan)])  # the same event again (a retried job)
    assert Notification.objects.count() == 1
    row = Notification.objects.get()
    assert row.channel == C.IN_APP and row.status == NotificationStatus.SENT and row.user == officer_luquan
    assert row.body == "批次 B1 银行结果已导入：成功 1 笔，失败 0 笔，待定 0 笔。"


def test_a_rolled_back_change_tells_nobody(officer_luquan, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                notify([_message(officer_luquan)])
                raise RuntimeError("the change fails")
    assert not Notification.objects.exists()


def test_an_outbox_failure_never_fails_the_callers_commit(officer_luquan, django_capture_on_commit_callbacks):
    bad = _message(officer_luquan)
    bad.event = "x" * 200  # too long for the column: the INSERT fails
    with django_capture_on_commit_callbacks(execute=True):
        notify([bad])  # logged, not raised
    assert not Notification.objects.exists()


def test_english_text_from_the_catalogue_and_chinese_as_sent(officer_luquan):
    params = {"batch": "B1", "paid": 2, "failed": 1, "pending": 0}
    with translation.override("en"):
        text = render_text(E.BATCH_RESULTS, C.IN_APP, params)
    assert text == "Bank results imported for batch B1: 2 paid, 1 failed, 0 pending."
    assert _message(officer_luquan).body.startswith("批次 B1")


# --------------------------------------------------------------------------- bank results


@pytest.fixture
def paid_batch(
    officer_luquan, city_shijiazhuang, province_staff, agent_gree, tmp_path, django_capture_on_commit_callbacks
):
    programme = make_programme("HB-NOTE")
    rule = make_rule(programme, "luquan_cash", name="鹿泉区留岗补贴")
    ents = make_entitlements(programme, rule, 3, start=700)
    person = ents[0].person
    person.name = "孙丽娟"
    person.save(update_fields=["name"])
    ents[0].registration.employer.agents.add(agent_gree)
    batch = approve(
        batches_build(programme=programme, acting_user=officer_luquan)[0],
        officer_luquan,
        city_shijiazhuang,
        province_staff,
    )
    batch_export(batch=batch, fmt="csv", acting_user=officer_luquan)
    batch.refresh_from_db()
    seq = {line.entitlement_id: line.seq for line in batch.lines.all()}
    path = tmp_path / "r.csv"
    path.write_text(example_result_csv(batch, {seq[ents[0].pk]: "户名不符"}), encoding="utf-8")
    Notification.objects.all().delete()  # the chain's own messages are tested below
    with django_capture_on_commit_callbacks(execute=True):
        batch_import_results(batch=batch, path=path, acting_user=officer_luquan)
    return {"batch": batch, "ents": ents, "path": path}


def test_bank_results_tell_workers_employer_and_officer(paid_batch, officer_luquan, officer_cangzhou, agent_gree):
    batch, ents = paid_batch["batch"], paid_batch["ents"]
    sms_rows = Notification.objects.filter(channel=C.SMS)
    assert sms_rows.count() == 3  # one per worker paid or failed
    failed = sms_rows.get(event=E.PAYMENT_FAILED)
    assert failed.body == (
        "【稳岗留工】孙*娟您好，您的鹿泉区留岗补贴 500.00 元发放未成功（户名不符），请联系用人单位核对银行账户。"
    )
    assert failed.phone_cipher == ents[0].person.phone_cipher and failed.phone_masked == ents[0].person.phone_masked
    assert failed.region_id == "130110"
    # The default backend "sent" them (eager Celery in tests): the outbox and the log.
    assert set(sms_rows.values_list("status", flat=True)) == {NotificationStatus.SENT}
    for row in Notification.objects.all():
        assert "孙丽娟" not in row.body and ents[0].person.id_masked not in row.body
        assert pii.decrypt(ents[0].person.phone_cipher) not in row.body
    agent = Notification.objects.filter(user=agent_gree).order_by("event")
    assert [m.event for m in agent] == [E.PAYMENT_FAILED, E.PAYMENT_PAID]
    assert "孙*娟" in agent[0].body and "更正" in agent[0].body
    assert agent[1].body == f"批次 {batch.number}：本单位 2 人的补贴已发放，合计 1,000.00 元。"
    officer = Notification.objects.get(user=officer_luquan)
    assert officer.event == E.BATCH_RESULTS and "成功 2 笔，失败 1 笔" in officer.body
    assert not Notification.objects.filter(user=officer_cangzhou).exists()  # another district


def test_the_same_results_imported_again_tell_nobody_twice(
    paid_batch, officer_luquan, django_capture_on_commit_callbacks
):
    before = Notification.objects.count()
    from disbursements.services.notify import batch_results_notify

    with django_capture_on_commit_callbacks(execute=True):
        batch_results_notify(batch_id=paid_batch["batch"].pk)  # the task delivered twice
        batch_import_results(batch=paid_batch["batch"], path=paid_batch["path"], acting_user=officer_luquan)
    assert Notification.objects.count() == before


# --------------------------------------------------------------------------- the chain, employers, appeals


def test_submitted_batch_waits_for_the_city_in_scope_only(
    officer_luquan, city_shijiazhuang, city_cangzhou, province_staff, django_capture_on_commit_callbacks
):
    programme = make_programme("HB-CHAIN")
    make_entitlements(programme, make_rule(programme, "luquan_cash"), 2, start=800)
    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    with django_capture_on_commit_callbacks(execute=True):
        batch_submit(batch=batch, acting_user=officer_luquan)
    waiting = Notification.objects.get(event=E.BATCH_WAITING)
    assert waiting.user == city_shijiazhuang and "等待您复核" in waiting.body
    assert waiting.link == reverse("disbursements:batch_detail", args=[batch.pk])
    assert not Notification.objects.filter(user__in=[city_cangzhou, province_staff]).exists()
    with django_capture_on_commit_callbacks(execute=True):
        batch_review(batch=batch, acting_user=city_shijiazhuang)
    assert Notification.objects.get(event=E.BATCH_WAITING, user=province_staff).body.endswith("等待您审批。")
    with django_capture_on_commit_callbacks(execute=True):
        batch_return(batch=batch, acting_user=province_staff, comment="金额需核对")
    returned = Notification.objects.get(event=E.BATCH_RETURNED)
    assert returned.user == city_shijiazhuang and "金额需核对" in returned.body


def test_employer_returned_tells_its_agents_only(
    officer_luquan, agent_gree, agent_other, django_capture_on_commit_callbacks
):
    from tests.factories import make_employer

    employer = make_employer(district="130110")
    employer.agents.add(agent_gree)
    with django_capture_on_commit_callbacks(execute=True):
        employer_return(employer=employer, acting_user=officer_luquan, reason="营业执照照片不清晰")
    message = Notification.objects.get()
    assert message.user == agent_gree and message.event == E.EMPLOYER_RETURNED
    assert message.body == f"单位“{employer.name}”被区县人社部门退回修改：营业执照照片不清晰"
    assert unread_count(agent_other) == 0 and unread_count(agent_gree) == 1


def test_appeal_and_objection_reach_the_district_officers(
    officer_luquan, officer_cangzhou, django_capture_on_commit_callbacks
):
    from disbursements.services.appeals import appeal_file_worker

    programme = make_programme("HB-APP")
    ent = make_entitlements(programme, make_rule(programme, "luquan_cash"), 1, start=900)[0]
    person = ent.person
    person.name = "欧阳娜娜"
    person.save(update_fields=["name"])
    with django_capture_on_commit_callbacks(execute=True):
        appeal_file_worker(person=person, registration_id=None, kind="not_paid", text="春节后仍未收到补贴，请核查")
    message = Notification.objects.get(event=E.APPEAL_FILED)
    assert message.user == officer_luquan and "欧阳**" in message.body and "未收到补贴" in message.body
    assert message.link == reverse("appeals:detail", args=[message.object_id])

    from disbursements.services.publicity import notice_create, objection_file

    batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
    notice = notice_create(batch=batch, acting_user=officer_luquan, contact_phone="0311-82015678")
    with django_capture_on_commit_callbacks(execute=True):
        objection_file(notice=notice, line_seq=1, reason="此人春节期间已回老家，并未留岗", ip="1.2.3.4")
    objection = Notification.objects.get(event=E.OBJECTION_FILED)
    assert objection.user == officer_luquan and objection.body == f"公示“{notice.title}”收到一条异议，请核查处理。"
    assert "老家" not in objection.body  # the objector's text stays on the notice page
    assert not Notification.objects.filter(user=officer_cangzhou).exists()


def test_survey_overdue_once_per_survey_per_day(officer_luquan, officer_cangzhou, django_capture_on_commit_callbacks):
    from programs.models import SurveyReport
    from programs.surveys.reminders import surveys_overdue_notify

    programme = make_programme("HB-SURV")
    # 鹿泉 filed for the first period, so it is expected for the next ones and is late.
    SurveyReport.objects.create(programme=programme, district_id="130110", as_of=dt.date(2021, 1, 31))
    day = dt.date(2021, 2, 20)
    with django_capture_on_commit_callbacks(execute=True):
        first = surveys_overdue_notify(today=day)
        surveys_overdue_notify(today=day)  # beat ran twice
    rows = Notification.objects.filter(event=E.SURVEY_OVERDUE)
    assert first == 1 and rows.count() == 1 and rows.get().user == officer_luquan
    assert "逾期" in rows.get().body
    with django_capture_on_commit_callbacks(execute=True):
        surveys_overdue_notify(today=day + dt.timedelta(days=1))
    assert rows.count() == 2
    with django_capture_on_commit_callbacks(execute=True):
        assert surveys_overdue_notify(today=dt.date(2021, 4, 20)) == 0  # the programme has ended


# --------------------------------------------------------------------------- SMS backends


class _Failing:
    def send(self, message):
        raise ConnectionError("provider down")


@override_settings(SMS_BACKEND="accounts.tests.test_notifications._Failing", SMS_MAX_ATTEMPTS=2)
def test_a_failing_backend_is_retried_then_marked_failed(django_capture_on_commit_callbacks):
    person, _ = make_person(name="李四")
    from accounts.services.notifications import sms

    message = sms(
        event=E.PAYMENT_PAID,
        key="t",
        phone_cipher=person.phone_cipher,
        phone_masked=person.phone_masked,
        params={"name": "李*", "scheme": "补贴", "amount": "500.00"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        notify([message])
    row = Notification.objects.get()
    assert row.status == NotificationStatus.PENDING and row.attempts == 1 and "provider down" in row.last_error
    assert sms_send(notification_ids=[row.pk]) == []  # second and last attempt
    row.refresh_from_db()
    assert row.status == NotificationStatus.FAILED and row.attempts == 2


def _pending_sms(count: int) -> list[Notification]:
    from accounts.services.notifications import sms

    person, _ = make_person(name="李四")
    rows = [
        sms(
            event=E.PAYMENT_PAID,
            key=f"sms-job-{i}",
            phone_cipher=person.phone_cipher,
            phone_masked=person.phone_masked,
            params={"name": "李*", "scheme": "补贴", "amount": "500.00"},
        )
        for i in range(count)
    ]
    return rows


class _FailsOnce:
    tried: set = set()

    def send(self, message):
        if message.pk not in self.tried:
            self.tried.add(message.pk)
            raise ConnectionError("provider busy")


def test_sending_is_one_job_that_the_engine_runs_recovers_and_beat_restarts(
    settings, django_capture_on_commit_callbacks
):
    """The outbox's SMS are sent by a Job (send_sms): written rows queue one (a burst finds
    it), the engine runs it with counts over every attempt, the sweep re-sends a lost one,
    and beat's sms_due starts a new one when a retry falls due."""
    from django.utils import timezone

    from accounts.choices import JobKind, JobState
    from accounts.models import Job
    from accounts.services.job_recovery import jobs_sweep
    from accounts.services.jobs import JOB_TASKS
    from accounts.services.notifications import sms_job_start
    from accounts.tasks import send_sms_task, sms_due_task

    assert JOB_TASKS[JobKind.SEND_SMS] is send_sms_task and JobKind.SEND_SMS.label == "发送短信"
    settings.CELERY_TASK_ALWAYS_EAGER = False  # as with a broker: the job waits in the queue
    settings.SMS_BACKEND = "accounts.tests.test_notifications._FailsOnce"
    _FailsOnce.tried = set()
    with django_capture_on_commit_callbacks(execute=True):
        notify(_pending_sms(3))
    with django_capture_on_commit_callbacks(execute=True):
        notify(_pending_sms(5)[3:])  # two more rows: the queued job will send them too
    job = Job.objects.get(kind=JobKind.SEND_SMS)
    assert sms_job_start() == job and job.state == JobState.QUEUED
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timezone.timedelta(seconds=600))
    assert jobs_sweep() == [job.pk]  # its message was lost: sent again
    first = Notification.objects.order_by("pk").first()
    _FailsOnce.tried = {m.pk for m in Notification.objects.exclude(pk=first.pk)}  # only the first fails
    send_sms_task(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE, job.message
    assert (job.result["sent"], job.result["retry"], job.result["failed"]) == (4, 1, 0)
    assert job.message == "短信已发送 4 条，待重试 1 条，发送失败 0 条"
    first.refresh_from_db()
    assert first.status == NotificationStatus.PENDING and first.attempts == 1 and first.retry_at > timezone.now()
    assert sms_due_task() is None  # its retry is not due yet
    Notification.objects.filter(pk=first.pk).update(retry_at=timezone.now() - timezone.timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=True):
        again = sms_due_task()
    assert again != job.pk
    send_sms_task(again)
    first.refresh_from_db()
    assert first.status == NotificationStatus.SENT and first.attempts == 2
    assert Job.objects.get(pk=again).result["sent"] == 1
    assert sms_due_task() is None


def test_http_backend_posts_the_real_number_in_the_providers_shape(settings):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(
                (self.headers["Authorization"], json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            )
            answer = b'{"code": "OK"}' if len(received) == 1 else b'{"code": "isv.BUSINESS_LIMIT", "message": "limit"}'
            self.send_response(200)
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from beneficiaries.sms import HttpSmsBackend, SmsSendError

        person, _ = make_person(name="王五", phone="13912345678")
        row = Notification(
            key="h|sms",
            event=E.PAYMENT_PAID,
            channel=C.SMS,
            phone_cipher=person.phone_cipher,
            params={"a": 1},
            body="正文",
        )
        backend = HttpSmsBackend(url=f"http://127.0.0.1:{server.server_port}/send", key="secret")
        backend.send(row)
        auth, payload = received[0]
        assert auth == "Bearer secret"
        assert payload == {
            "phone": "13912345678",
            "sign_name": settings.SMS_SIGN_NAME,
            "template_code": "payment_paid",
            "template_params": {"a": 1},
            "content": "正文",
            "out_id": "h|sms",
        }
        with pytest.raises(SmsSendError, match="limit"):
            backend.send(row)
    finally:
        server.shutdown()


# --------------------------------------------------------------------------- pages and API


def test_page_bell_mark_read_and_scope(
    client, officer_luquan, officer_cangzhou, agent_gree, django_capture_on_commit_callbacks
):
    person, _ = make_person(name="赵六")
    from accounts.services.notifications import sms

    with django_capture_on_commit_callbacks(execute=True):
        notify(
            [
                _message(officer_luquan, key="a"),
                _message(officer_cangzhou, key="b"),
                sms(
                    event=E.PAYMENT_PAID,
                    key="s1",
                    phone_cipher=person.phone_cipher,
                    phone_masked=person.phone_masked,
                    params={"name": "赵*", "scheme": "补贴", "amount": "500.00"},
                    region_id="130110",
                ),
            ]
        )
    mine = Notification.objects.get(user=officer_luquan)
    theirs = Notification.objects.get(user=officer_cangzhou)
    client.force_login(officer_luquan)
    page = client.get(reverse("notifications:list")).content.decode()
    assert "data-unread-count>1</span>" in page and "批次 B1 银行结果已导入" in page
    sms_page = client.get(reverse("notifications:list") + "?box=sms").content.decode()
    assert person.phone_masked in sms_page and "赵*" in sms_page
    # Another officer's message is not found; nor are the SMS of another district.
    assert client.post(reverse("notifications:read", args=[theirs.pk])).status_code == 404
    client.force_login(officer_cangzhou)
    assert person.phone_masked not in client.get(reverse("notifications:list") + "?box=sms").content.decode()
    client.force_login(officer_luquan)
    client.post(reverse("notifications:read", args=[mine.pk]))
    mine.refresh_from_db()
    assert mine.read_at is not None and unread_count(officer_luquan) == 0
    assert "data-unread-count hidden>0</span>" in client.get(reverse("home")).content.decode()
    theirs.refresh_from_db()
    assert theirs.read_at is None
    # An employer agent has no SMS tab: ?box=sms shows its own messages.
    client.force_login(agent_gree)
    assert person.phone_masked not in client.get(reverse("notifications:list") + "?box=sms").content.decode()


def test_page_in_english(client, officer_luquan, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify([_message(officer_luquan)])
    client.force_login(officer_luquan)
    client.cookies["django_language"] = "en"
    page = client.get(reverse("notifications:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Bank results imported for batch B1" in page and "Notifications" in page


def test_api_lists_counts_and_marks_read(client, officer_luquan, officer_cangzhou, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            [_message(officer_luquan, key="a"), _message(officer_luquan, key="b"), _message(officer_cangzhou, key="c")]
        )
    client.force_login(officer_luquan)
    data = client.get("/api/v1/notifications/").json()
    assert len(data["results"]) == 2 and data["results"][0]["event"] == "batch_results"
    assert client.get("/api/v1/notifications/unread/").json() == {"unread": 2}
    first = data["results"][0]["id"]
    assert client.post(f"/api/v1/notifications/{first}/read/").json()["read_at"]
    other = Notification.objects.get(user=officer_cangzhou).pk
    assert client.post(f"/api/v1/notifications/{other}/read/").status_code == 404
    assert client.get(f"/api/v1/notifications/{other}/").status_code == 404
    assert client.post("/api/v1/notifications/read-all/", {}, content_type="application/json").json() == {"marked": 1}
    assert client.get("/api/v1/notifications/unread/").json() == {"unread": 0}
    assert "notifications" in client.get("/api/v1/").json()


def test_a_new_officer_has_no_messages(client):
    user = make_user("officer_new", "district", "130110")
    client.force_login(user)
    assert "暂无消息" in client.get(reverse("notifications:list")).content.decode()


def test_an_event_triggered_from_an_english_page_is_stored_in_chinese(
    officer_luquan, agent_gree, django_capture_on_commit_callbacks
):
    from disbursements.services.appeals import appeal_file_employer

    programme = make_programme("HB-APP-EN")
    ent = make_entitlements(programme, make_rule(programme, "luquan_cash"), 1, start=950)[0]
    ent.registration.employer.agents.add(agent_gree)
    with translation.override("en"), django_capture_on_commit_callbacks(execute=True):
        appeal_file_employer(
            acting_user=agent_gree, kind="wrong_amount", text="金额与公示不一致，请核对", registration=ent.registration
        )
    message = Notification.objects.get(event=E.APPEAL_FILED)
    assert "（金额不对）" in message.body and message.params["kind"] == "金额不对"
    with translation.override("en"):
        assert "(Wrong amount)" in message.text


def test_a_backend_that_does_not_import_is_reported_at_start(settings):
    from portal.checks import sms_backend_imports

    assert sms_backend_imports() == []
    settings.SMS_BACKEND = "accounts.sms.NoSuchBackend"
    assert [e.id for e in sms_backend_imports()] == ["portal.E002"]


def test_telling_a_batch_reads_the_same_number_of_queries_however_many_employers(
    officer_luquan, city_shijiazhuang, province_staff, agent_gree
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from disbursements.models import Batch
    from disbursements.services.notify import batch_results_notify

    def queries(code: str, employers: int) -> int:
        programme = make_programme(code)
        rule = make_rule(programme, "luquan_cash")
        for i in range(employers):
            ents = make_entitlements(programme, rule, 2, start=2000 + 100 * employers + 10 * i)
            ents[0].registration.employer.agents.add(agent_gree)
        batch = batches_build(programme=programme, acting_user=officer_luquan)[0]
        Batch.objects.filter(pk=batch.pk).update(status="reconciled")
        batch.lines.update(status="paid")
        with CaptureQueriesContext(connection) as ctx:
            batch_results_notify(batch_id=batch.pk)  # the writes wait for the commit
        return len(ctx.captured_queries)

    assert queries("HB-Q1", 1) == queries("HB-Q3", 3)


# --------------------------------------------------------------------------- the bell's cached count


def _bell(client) -> str:
    page = client.get(reverse("home")).content.decode()
    start = page.index("data-unread-count")
    return page[start : page.index("</span>", start)]


def test_bell_count_is_cached_and_follows_every_write(
    client, officer_luquan, officer_cangzhou, django_capture_on_commit_callbacks, django_assert_num_queries
):
    client.force_login(officer_luquan)
    assert _bell(client) == "data-unread-count hidden>0"
    # Cached: the next read of the count asks the database nothing.
    with django_assert_num_queries(0):
        assert unread_count(officer_luquan) == 0
    with django_capture_on_commit_callbacks(execute=True):
        notify(
            [_message(officer_luquan, key="a"), _message(officer_luquan, key="b"), _message(officer_cangzhou, key="c")]
        )
    assert _bell(client) == "data-unread-count>2"
    with django_assert_num_queries(0):
        assert unread_count(officer_luquan) == 2
    # Another user's count is their own, never this user's cached one.
    assert unread_count(officer_cangzhou) == 1
    first = Notification.objects.filter(user=officer_luquan).first()
    client.post(reverse("notifications:read", args=[first.pk]))
    assert _bell(client) == "data-unread-count>1"
    client.post(reverse("notifications:read_all"))
    assert _bell(client) == "data-unread-count hidden>0"
    assert unread_count(officer_cangzhou) == 1


def test_bell_count_read_before_a_commit_is_not_kept_after_it(officer_luquan, django_capture_on_commit_callbacks):
    """A count read while a write is in flight (another worker's request) was read from the
    database before the commit: the version set at the commit makes the next read count again."""
    assert unread_count(officer_luquan) == 0
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            notify([_message(officer_luquan)])
    # The outbox row is written by an on_commit callback: set a new version at *its* commit only.
    from django.core.cache import cache

    from accounts.services.notifications import _bell_keys

    version_key, count_key = _bell_keys(officer_luquan.pk, officer_luquan.date_joined)
    stale_version = cache.get(version_key)
    cache.set(count_key, (stale_version, 0))  # as a reader that counted before the commit would
    with django_capture_on_commit_callbacks(execute=True):
        notify([_message(officer_luquan, key="second")])
    assert cache.get(version_key) != stale_version
    assert unread_count(officer_luquan) == 2


def test_bell_keys_tell_apart_users_of_other_databases(officer_luquan):
    """A user with the same id in another database (a previous test run, a restored backup)
    signed up at another moment: its cached count is not this user's."""
    other_joined = officer_luquan.date_joined - dt.timedelta(seconds=1)
    from django.core.cache import cache

    from accounts.services.notifications import _bell_keys

    stale_version_key, stale_count_key = _bell_keys(officer_luquan.pk, other_joined)
    cache.set_many({stale_version_key: "v", stale_count_key: ("v", 7)})
    assert unread_count(officer_luquan) == 0
