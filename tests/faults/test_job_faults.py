"""Every job kind survives a killed worker, a restarted database and a restarted broker.

For each kind: a clean run gives the expected rows, totals and file bytes; then the same
job is run again from the same data three times, once with the worker killed with
SIGKILL part way (and started again), once with PostgreSQL restarted part way, once
with Redis restarted part way. Each ends `done` within the recovery bound with exactly
the clean run's result, and its Job result describes the whole job. The import is also
killed right after its rows were committed (the issue's "新增 0 条" case).
"""

import csv
import hashlib
import io
import time
from pathlib import Path

import pytest
from django.db.models import Count, Sum

from accounts.choices import JobState
from accounts.models import Job, User
from tests.factories import make_user

pytestmark = [pytest.mark.faults, pytest.mark.django_db(transaction=True)]

BOUND = 120.0  # seconds: recovery (claimed again) after the new worker starts / the service returns
CLEAN: dict = {}


def _digest(rows) -> str:
    return hashlib.sha256(repr(sorted(rows)).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- kinds
#
# Programmes of one city where the kind allows it (the computation's spans the
# province): every job that changes money queues a rollups refresh, which warms the
# dashboard panel of every region of the programme; a city's twenty panels instead of
# the province's two hundred keep each case to seconds without changing what is tested.


class ImportWorkers:
    name = "import_workers"

    def setup(self):
        from tests.factories import make_employer, make_programme
        from tests.import_files import worker_row, write_csv

        self.user = make_user("fault_agent", "employer")
        self.employer = make_employer("石家庄故障测试有限公司", "130110", agents=[self.user])
        self.programme = make_programme("FAULT-2021", status="active", region_id="130100")
        rows = [worker_row(i) for i in range(3000)]
        rows[10]["银行账号"] = "12"  # two rejected rows: a report is written
        rows[20]["手机号"] = "123"
        self.path = write_csv(Path(__import__("tempfile").mkdtemp()) / "名单.csv", rows)

    def start(self):
        from beneficiaries.importer.uploads import import_upload_confirm, import_upload_create

        with open(self.path, "rb") as fh:
            upload = import_upload_create(
                user=self.user, kind="workers", fileobj=fh, filename="名单.csv", employer=self.employer,
                programme=self.programme,
            )  # fmt: skip
        self.upload = upload
        return import_upload_confirm(upload=upload, user=self.user, valid_only=True)

    def snapshot(self, job):
        from beneficiaries.models import Registration

        regs = Registration.objects.filter(employer=self.employer, programme=self.programme)
        report = (self.upload.directory / "report-import.csv").read_bytes()
        r = job.result
        # The fault suite's worker checks every import's rows in forked worker processes
        # (tests/faults/worker.py): the heartbeat thread must not have kept it from forking.
        assert r["processes"] > 0, r
        return {
            "rows": _digest(regs.values_list("person__id_hash", "category", "account_masked")),
            "count": regs.count(),
            "report": hashlib.sha256(report).hexdigest(),
            "result": (r["total"], r["accepted"], r["rejected"], r["created"], r["unchanged"], r["persons_created"]),
        }


class ImportEmployers:
    name = "import_employers"

    def setup(self):
        from beneficiaries.importer.columns import EMPLOYER_COLUMNS
        from beneficiaries.uscc import make_uscc

        self.user = make_user("fault_province", "province", "130000")
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([c.header for c in EMPLOYER_COLUMNS])
        for i in range(1500):
            code = make_uscc("91", "130110", f"{70000000 + i:08d}")
            w.writerow(
                [code, f"故障测试企业{i}有限公司", "私营/非公", "130110", "制造业", "张三", "13800138000"][
                    : len(EMPLOYER_COLUMNS)
                ]
            )
        w.writerow(["BAD", "坏行", "私营/非公", "130110", "", "", ""][: len(EMPLOYER_COLUMNS)])
        self.data = buf.getvalue().encode("utf-8-sig")

    def start(self):
        from beneficiaries.importer.uploads import import_upload_confirm, import_upload_create

        upload = import_upload_create(
            user=self.user, kind="employers", fileobj=io.BytesIO(self.data), filename="单位.csv"
        )
        self.upload = upload
        return import_upload_confirm(upload=upload, user=self.user, valid_only=True)

    def snapshot(self, job):
        from beneficiaries.models import Employer

        employers = Employer.objects.filter(name__startswith="故障测试企业")
        r = job.result
        return {
            "rows": _digest(employers.values_list("credit_code", "name", "district_id", "status")),
            "count": employers.count(),
            "report": hashlib.sha256((self.upload.directory / "report-import.csv").read_bytes()).hexdigest(),
            "result": (r["total"], r["accepted"], r["rejected"], r["created"], r["unchanged"]),
        }


class Compute:
    name = "compute"

    def setup(self):
        from programs.demo import demo_programme as programme
        from tests.factories import reg

        self.user = make_user("fault_compute", "province", "130000")
        self.programme = programme()
        for _ in range(40):
            reg(self.programme, "130110", "410102")
            reg(self.programme, "130723", "130723", category="hardship")
            reg(self.programme, "131102", "410102", duty_days=2)
            reg(self.programme, "130903", "410102")

    def start(self):
        from disbursements.tasks import compute_start

        return compute_start(programme=self.programme, acting_user=self.user)

    def snapshot(self, job):
        from disbursements.models import Entitlement

        rows = (
            Entitlement.objects.filter(programme=self.programme)
            .values_list("district_id", "rule_key", "status")
            .annotate(n=Count("id"), total=Sum("amount"))
        )
        r = job.result
        return {"rows": _digest(rows), "result": (r["count"], r["amount"], r["written"], sorted(r["districts"]))}


class Build:
    name = "build_batches"
    DISTRICTS = ["130102", "130104", "130105", "130107", "130108", "130110"]

    def setup(self):
        from tests.factories import make_entitlements, make_programme, make_rule

        self.user = User.objects.create_superuser("fault_admin", "f@example.invalid", "Test-pass-2021", role="admin")
        self.programme = make_programme("HB-FAULT", region_id="130100")
        rule = make_rule(self.programme, "sjz_cash", region="130100", amount="500.00")
        ss = make_rule(self.programme, "sjz_ss", region="130100", channel="ss_card", amount="123.45")
        for i, code in enumerate(self.DISTRICTS):
            make_entitlements(self.programme, rule, 12 + i, district=code, start=10_000 + i * 100)
            make_entitlements(self.programme, ss, 3, district=code, start=20_000 + i * 100)

    def start(self):
        from disbursements.tasks import build_job_start

        return build_job_start(programme=self.programme, acting_user=self.user)

    def snapshot(self, job):
        from disbursements.models import Batch, PaymentLine

        batches = Batch.objects.filter(programme=self.programme)
        lines = PaymentLine.objects.filter(batch__programme=self.programme)
        assert lines.values("entitlement_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0  # no duplicate
        r = job.result
        return {
            "batches": _digest(batches.values_list("district_id", "channel", "number", "line_count", "total")),
            "lines": _digest(lines.values_list("batch__number", "seq", "amount", "entitlement__person__id_hash")),
            "result": (len(r["batches"]), r["lines"], r["total"], r["message"]),
        }


class _Approved:
    def approved_batch(self, n: int = 400):
        from disbursements.services.batches import batches_build
        from tests.factories import approve, make_entitlements, make_programme, make_rule

        self.officer = make_user("fault_officer", "district", "130110")
        city, province = make_user("fault_city", "city", "130100"), make_user("fault_prov", "province", "130000")
        programme = make_programme("HB-FAULT-X", region_id="130100")
        rule = make_rule(programme, "luquan_cash", amount="500.00")
        make_entitlements(programme, rule, n, district="130110", start=30_000)
        batch = batches_build(programme=programme, acting_user=self.officer)[0]
        return approve(batch, self.officer, city, province)


class Export(_Approved):
    name = "export_batch"

    def setup(self):
        self.batch = self.approved_batch()

    def start(self):
        from accounts.choices import JobKind
        from accounts.services.jobs import job_create, job_enqueue
        from disbursements.tasks import export_batch_task

        # The worker's JOB_TEST_SLOWDOWN opens the window between the file written and the
        # export recorded (the issue's kill).
        job = job_create(
            kind=JobKind.EXPORT_BATCH,
            requested_by=self.officer,
            params={"batch_id": self.batch.pk, "fmt": "csv", "encoding": "utf-8"},
        )
        return job_enqueue(job, export_batch_task)

    def snapshot(self, job):
        from disbursements.models import BatchExport
        from disbursements.services.payment_files import bank_files_dir, file_name

        self.batch.refresh_from_db()
        final = Path(bank_files_dir()) / file_name(self.batch, "csv")
        assert not list(Path(bank_files_dir()).glob("*.part-*")), "a half-written file was left behind"
        return {
            "file": hashlib.sha256(final.read_bytes()).hexdigest(),
            "status": self.batch.status,
            "exports": BatchExport.objects.filter(batch=self.batch).count(),
            "result": (job.result["lines"], job.result["total"], job.result["checksum"]),
        }


class Results(_Approved):
    name = "import_results"

    def setup(self):
        from disbursements.services.bank_results import example_result_csv
        from disbursements.services.payment_files import batch_export

        self.batch = self.approved_batch()
        batch_export(batch=self.batch, fmt="csv", acting_user=self.officer)
        self.batch.refresh_from_db()
        self.data = example_result_csv(self.batch, {2: "户名不符", 5: "账号不存在", 77: "账户已冻结"}).encode(
            "utf-8-sig"
        )

    def start(self):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from disbursements.tasks import results_job_start

        upload = SimpleUploadedFile("result.csv", self.data, content_type="text/csv")
        return results_job_start(batch=self.batch, uploaded=upload, acting_user=self.officer)

    def snapshot(self, job):
        self.batch.refresh_from_db()
        lines = self.batch.lines.values_list("seq", "status", "failure_reason", "amount")
        return {
            "lines": _digest(lines),
            "status": self.batch.status,
            "result": (job.result["paid"], job.result["failed"], job.result["pending"]),
        }


class _Vouchers:
    """An approved voucher batch of 衡水 (¥500, valid until 2021-03-08)."""

    def voucher_batch(self, n: int = 200):
        import datetime as dt

        from disbursements.services.batches import batches_build
        from tests.factories import approve, make_entitlements, make_programme, make_rule

        self.officer = make_user("fault_hs_officer", "district", "131102")
        city, province = make_user("fault_hs_city", "city", "131100"), make_user("fault_hs_prov", "province", "130000")
        self.programme = make_programme("HB-FAULT-V", region_id="131100")
        rule = make_rule(
            self.programme, "hs_voucher", region="131100", kind="voucher", channel="e_voucher", amount="500.00",
            valid_until=dt.date(2021, 3, 8),
        )  # fmt: skip
        make_entitlements(self.programme, rule, n, district="131102", start=40_000)
        batch = batches_build(programme=self.programme, acting_user=self.officer)[0]
        return approve(batch, self.officer, city, province)

    def voucher_rows(self):
        """Per line: what was issued or redeemed, without the random codes and ids; and
        that no line got two vouchers or two audit rows."""
        from accounts.models import AuditEntry
        from disbursements.models import PaymentLine, Voucher

        lines = PaymentLine.objects.filter(batch=self.batch)
        vouchers = Voucher.objects.filter(entitlement__lines__batch=self.batch)
        ids = [str(pk) for pk in lines.values_list("pk", flat=True)]
        voucher_ids = [str(pk) for pk in vouchers.values_list("pk", flat=True)]
        issued_audits = AuditEntry.objects.filter(action="line_voucher", object_id__in=ids)
        redeemed_audits = AuditEntry.objects.filter(action="voucher_redeem", object_id__in=voucher_ids)
        assert issued_audits.values("object_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
        assert redeemed_audits.values("object_id").annotate(n=Count("id")).filter(n__gt=1).count() == 0
        rows = lines.values_list(
            "seq", "status", "amount", "entitlement__voucher__face_value", "entitlement__voucher__expires_on",
            "entitlement__voucher__status", "entitlement__voucher__redeemed_at", "entitlement__voucher__merchant",
        )  # fmt: skip
        return {
            "lines": _digest([tuple(str(v) for v in r) for r in rows]),
            "vouchers": vouchers.count(),
            "issued_audits": issued_audits.count(),
            "redeemed_audits": redeemed_audits.count(),
        }


class IssueVouchers(_Vouchers):
    name = "issue_vouchers"

    def setup(self):
        self.batch = self.voucher_batch()

    def start(self):
        from disbursements.tasks import issue_job_start

        return issue_job_start(batch=self.batch, acting_user=self.officer, chunk=20)  # 10 commits

    def snapshot(self, job):
        self.batch.refresh_from_db()
        return {**self.voucher_rows(), "status": self.batch.status, "result": (job.result["issued"], job.message)}


class Redemptions(_Vouchers):
    name = "import_redemptions"

    def setup(self):
        from disbursements.models import Voucher
        from disbursements.services.vouchers import vouchers_issue

        self.batch = self.voucher_batch()
        vouchers_issue(batch=self.batch, acting_user=self.officer)
        codes = Voucher.objects.filter(entitlement__lines__batch=self.batch).order_by("entitlement__lines__seq")
        rows = [f"{c},2021-02-{10 + i % 18:02d} 10:{i % 60:02d}:00,衡水超市{i % 7}" for i, c in enumerate(
            codes.values_list("code", flat=True)[:250])]  # fmt: skip
        self.data = ("券码,核销时间,核销商户\n" + "\n".join(rows) + "\n").encode("utf-8-sig")

    def start(self):
        from django.core.files.uploadedfile import SimpleUploadedFile

        from disbursements.tasks import redemptions_job_start

        upload = SimpleUploadedFile("核销.csv", self.data, content_type="text/csv")
        return redemptions_job_start(batch=self.batch, uploaded=upload, acting_user=self.officer, chunk=20)

    def snapshot(self, job):
        return {**self.voucher_rows(), "result": (job.result["rows"], job.result["redeemed"], job.message)}


class Rollups(Build):
    """The dashboards' refresh of the build case's programme (its entitlements)."""

    name = "refresh_rollups"

    def start(self):
        from disbursements.services.rollups import rollups_job_start

        return rollups_job_start(self.programme.pk)

    def snapshot(self, job):
        from disbursements.models import RegionRollup, RuleRollup

        def rows(model):
            fields = [f.name for f in model._meta.concrete_fields if f.name not in ("id", "refreshed_at", "programme")]
            return _digest(
                [tuple(str(v) for v in r) for r in model.objects.filter(programme=self.programme).values_list(*fields)]
            )

        return {
            "regions": rows(RegionRollup),
            "rules": rows(RuleRollup),
            "count": RegionRollup.objects.filter(programme=self.programme).count(),
            "result": (job.result["districts"], job.message),
        }


class RollupsCatchUp(Rollups):
    """The catch-up of changed districts (services.freshness): the build case's programme
    refreshed whole once, then four of its districts marked as changed. Killed or not,
    the marked districts are refreshed and their marks gone."""

    name = "refresh_rollups_catch_up"

    def setup(self):
        from disbursements.models import RollupDirty
        from disbursements.services.rollups import rollups_refresh

        super().setup()
        rollups_refresh(programme=self.programme)
        RollupDirty.objects.bulk_create(
            [RollupDirty(programme=self.programme, district_id=code) for code in self.DISTRICTS[:4]]
        )

    def start(self):
        from disbursements.services.rollups import rollups_catch_up_start

        return rollups_catch_up_start()

    def snapshot(self, job):
        from disbursements.models import RegionRollup, RollupDirty

        assert not RollupDirty.objects.exists()  # every mark consumed, once
        rows = RegionRollup.objects.filter(programme=self.programme).order_by("region_id")
        return {
            "regions": _digest(rows.values_list("region_id", "entitled_count", "entitled_amount", "batched_count")),
            "result": (job.result["districts_refreshed"], job.message),
        }


class Signals(Build):
    """The fraud signals of the build case's programme: its registrations are made now,
    after the programme's 2021 deadline, so each employer's make a late-registration
    signal (ids change from run to run: a signal is compared by its members' ID hashes)."""

    name = "compute_signals"

    def start(self):
        from disbursements.tasks import signals_job_start

        return signals_job_start(self.programme.pk)

    def snapshot(self, job):
        from disbursements.models import FraudSignal

        signals = FraudSignal.objects.filter(programme=self.programme).prefetch_related("members__registration__person")
        rows = [
            (
                s.kind,
                s.severity,
                s.status,
                s.member_count,
                _digest([m.registration.person.id_hash for m in s.members.all()]),
            )
            for s in signals
        ]
        assert rows, "the case's programme has signals to compute"
        r = job.result
        return {"signals": _digest(rows), "count": len(rows), "result": (r["opened"], r["kept"], r["gone"])}


class SendSms:
    """The outbox's SMS to 240 workers (rows written directly: through `notify` the
    setup's commit would start the job before the case does)."""

    name = "send_sms"
    COUNT = 240

    def setup(self):
        from accounts.choices import NotificationChannel, NotificationEvent
        from accounts.models import Notification

        Notification.objects.bulk_create(
            Notification(
                key=f"fault-sms-{i}",
                event=NotificationEvent.PAYMENT_PAID,
                channel=NotificationChannel.SMS,
                phone_masked=f"138****{i:04d}",
                body=f"李*，您的补贴 500.00 元已发放（{i}）",
            )
            for i in range(self.COUNT)
        )

    def start(self):
        from accounts.services.notifications import sms_job_start

        return sms_job_start(chunk=20)

    def snapshot(self, job):
        from accounts.models import Notification

        rows = Notification.objects.values_list("key", "status", "attempts", "last_error")
        assert Notification.objects.filter(attempts__gt=1).count() == 0  # nothing tried twice
        r = job.result
        return {"rows": _digest(rows), "result": (r["sent"], r["retry"], r["failed"], job.message)}


KINDS = [
    ImportWorkers, ImportEmployers, Compute, Build, Export, Results, IssueVouchers, Redemptions, Rollups,
    RollupsCatchUp, Signals, SendSms,
]  # fmt: skip
FAULTS = ["clean", "kill", "postgres", "redis"]


# --------------------------------------------------------------------------- driving


def _job(stack, pk):
    return stack.db(lambda: Job.objects.get(pk=pk))


def _wait(stack, pk, predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = _job(stack, pk)
        if predicate(job):
            return job
        time.sleep(0.2)
    job = _job(stack, pk)
    raise AssertionError(f"timed out ({timeout:.0f} s) waiting for {what}: {job.state} {job.attempts} {job.message}")


def _part_way(job) -> bool:
    return job.state == JobState.RUNNING and (job.progress_total > 0 or job.progress_done > 0)


def _settle(stack):
    t = time.monotonic()
    _settle_inner(stack)
    print(f" settle {time.monotonic() - t:.1f} s", end=" ")


def _settle_inner(stack):
    """Nothing of this case still runs when the next one starts (and the test database
    is flushed): no job queued or running (an import's recompute …), and no task at all
    on the worker (a rollups refresh holds locks that the flush would deadlock on)."""
    from portal.celery import app

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if not stack.db(lambda: Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).exists()):
            break
        time.sleep(0.3)
    while time.monotonic() < deadline:
        try:
            # A fresh connection each time: a pooled one may have died with a Redis restart
            # and keep failing. One worker: its reply ends the wait (limit=1).
            with app.connection_for_write() as conn:
                active = app.control.inspect(timeout=1.0, limit=1, connection=conn).active() or {}
        except Exception:  # Redis is still coming back: ask again
            active = {}
        if active and not any(active.values()):
            return
        time.sleep(0.3)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_a_job_comes_back_with_the_clean_result(stack, recovery_log, kind, fault):
    scenario = kind()
    t_setup = time.monotonic()
    scenario.setup()
    t_setup = time.monotonic() - t_setup
    if not stack.worker.alive():
        stack.worker.start()
    t_job = time.monotonic()
    job = scenario.start()
    started_attempts = 1
    t0 = None
    if fault != "clean":
        job = _wait(stack, job.pk, lambda j: _part_way(j) or j.finished, 90, "the job to be part way")
        assert job.state == JobState.RUNNING, f"the job ended before the fault: {job.message}"
        started_attempts = job.attempts
        if fault == "kill":
            stack.worker.kill()
            t0 = stack.worker.start()
        elif fault == "postgres":
            stack.pg.restart()
            t0 = time.monotonic()
        else:
            stack.redis.restart()
            t0 = time.monotonic()
            assert stack.worker.alive(), "the worker died with Redis"
    if t0 is not None:
        if fault == "redis":  # nothing to recover: the job goes on
            recovered = 0.0
        else:
            _wait(
                stack, job.pk,
                lambda j: j.state == JobState.DONE or (j.state == JobState.RUNNING and j.attempts > started_attempts),
                BOUND, "the job to be taken again",
            )  # fmt: skip
            recovered = time.monotonic() - t0
        assert recovered <= BOUND
    job = _wait(stack, job.pk, lambda j: j.finished, BOUND + 90, "the job to finish")
    print(f"\n{scenario.name}-{fault}: setup {t_setup:.1f} s, job {time.monotonic() - t_job:.1f} s", end=" ")
    assert job.state == JobState.DONE, job.message
    if t0 is not None:
        recovery_log.setdefault(scenario.name, {})[fault] = {
            "recovered_s": round(recovered, 1),
            "done_s": round(time.monotonic() - t0, 1),
            "attempts": job.attempts,
        }
    snapshot = stack.db(lambda: scenario.snapshot(job))
    if fault == "clean":
        CLEAN[scenario.name] = snapshot
    else:
        assert scenario.name in CLEAN, "the clean case of this kind runs first"
        assert snapshot == CLEAN[scenario.name]
    _settle(stack)
    assert stack.worker.alive() and stack.beat.alive()


def test_import_killed_right_after_its_commit_reports_what_it_wrote(stack, recovery_log):
    """The issue's "正在完成写入…" case: every row committed, the worker killed before the
    job was recorded done; the retried attempt must not report "新增 0 条"."""
    scenario = ImportWorkers()
    scenario.setup()
    job = scenario.start()
    job = _wait(stack, job.pk, lambda j: "committed" in (j.result or {}) or j.finished, 120, "the rows to be committed")
    assert job.state == JobState.RUNNING, job.message
    stack.worker.kill()
    t0 = stack.worker.start()
    job = _wait(stack, job.pk, lambda j: j.finished, BOUND, "the job to finish")
    assert job.state == JobState.DONE and job.attempts == 2, job.message
    recovery_log.setdefault("import_workers", {})["kill_after_commit"] = {
        "recovered_s": round(time.monotonic() - t0, 1),
        "done_s": round(time.monotonic() - t0, 1),
        "attempts": job.attempts,
    }
    assert stack.db(lambda: scenario.snapshot(job)) == CLEAN["import_workers"]
    assert "新增 0 条" not in job.message and "已新增 2,998 条登记" in job.message
    _settle(stack)


def test_a_lost_message_is_sent_again_by_the_sweep(stack, recovery_log, settings):
    """Redis loses a queued message (a restart without persistence): beat's sweep sends
    it again once it is half JOB_STALE_SECONDS old: done within two minutes."""
    import redis

    scenario = Build()
    t = time.monotonic()
    scenario.setup()
    print(f"\nlost: setup {time.monotonic() - t:.1f} s", end=" ")
    t = time.monotonic()
    stack.worker.stop()
    print(f"stop {time.monotonic() - t:.1f} s", end=" ")
    job = scenario.start()
    client = redis.Redis.from_url(settings.REDIS_URL)
    # The build's queue (compute), with the job's only message.
    assert client.delete(settings.CELERY_TASK_ROUTES["disbursements.build_batches"]["queue"]) == 1
    t0 = stack.worker.start()
    job = _wait(
        stack,
        job.pk,
        lambda j: j.finished,
        BOUND,
        "the lost job",
    )
    assert job.state == JobState.DONE, job.message
    recovery_log.setdefault("build_batches", {})["lost_message"] = {
        "recovered_s": round(time.monotonic() - t0, 1),
        "done_s": round(time.monotonic() - t0, 1),
        "attempts": job.attempts,
    }
    assert stack.db(lambda: scenario.snapshot(job)) == CLEAN["build_batches"]
    # The build queues a rollups refresh: let the worker finish it before the flush.
    _settle(stack)


def test_healthz_goes_503_while_a_service_is_down_and_200_within_30_s_of_its_return(stack, client, recovery_log):
    def status():
        return client.get("/healthz").status_code

    deadline = time.monotonic() + 60
    while status() != 200 and time.monotonic() < deadline:
        time.sleep(1)
    assert status() == 200
    stack.pg.stop()
    try:
        response = client.get("/healthz")
        assert response.status_code == 503 and response.json()["down"] == ["database"]
    finally:
        stack.pg.start()
    back = time.monotonic()
    while status() != 200:
        assert time.monotonic() - back < 30, "not healthy 30 s after PostgreSQL returned"
        time.sleep(0.5)
    healthy = round(time.monotonic() - back, 1)
    recovery_log.setdefault("healthz", {})["postgres"] = {"recovered_s": healthy, "done_s": healthy, "attempts": 0}
    stack.redis.stop()
    try:
        response = client.get("/healthz")
        assert response.status_code == 503 and "broker" in response.json()["down"]
    finally:
        stack.redis.start()
    back = time.monotonic()
    while status() != 200:
        assert time.monotonic() - back < 30, "not healthy 30 s after Redis returned"
        time.sleep(0.5)
    healthy = round(time.monotonic() - back, 1)
    recovery_log.setdefault("healthz", {})["redis"] = {"recovered_s": healthy, "done_s": healthy, "attempts": 0}
