"""Demo step: batches of HEBEI-2021, one of them through the whole chain.

鹿泉区's bank-card batch is built by luquan, reviewed by shijiazhuang, approved by
sheng, exported, paid by the "bank" except three lines (户名不符, 账号不存在, 冻结); the
账号不存在 line gets a corrected account and goes into a 补发 batch, submitted and
waiting for the city. 循环化工园区 pays "800元的电子红包或现金补贴": its 电子红包 batch
(the workers who chose the red packet) goes through the same chain, is exported as the
platform's bulk red-packet upload and comes back with two packets failed (手机号未注册,
超时未领取已退回) for the officer to correct or confirm; its 现金 batch (those who chose
cash) is left a draft. 沧州运河区's batch is left submitted, so that every role has
something in its to-do list. Idempotent: skipped when the
programme already has batches.
"""

import datetime as dt
import tempfile
from pathlib import Path

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import AuditEntry, User
from disbursements.models import Batch, BatchExport, BatchStep, PaymentLine
from disbursements.services.bank_results import batch_import_results, example_result_csv
from disbursements.services.batches import (
    batch_approve,
    batch_build_supplement,
    batch_review,
    batch_submit,
    batches_build,
    line_correct,
)
from disbursements.services.payment_files import batch_export
from disbursements.services.red_packets import example_result_csv as red_packet_result_csv
from programs.choices import Channel
from programs.models import Programme
from regions.models import Region

PROGRAMME_CODE = "HEBEI-2021"
FAILURES = {2: "户名不符", 5: "账号不存在", 9: "冻结"}


def demo_batches() -> dict:
    programme = Programme.objects.filter(code=PROGRAMME_CODE).first()
    if programme is None:
        return {"skipped": "no programme"}
    if Batch.objects.filter(programme=programme).exists():
        return {"skipped": "batches exist"}
    users = {
        u.username: u
        for u in User.objects.filter(username__in=["luquan", "shijiazhuang", "sheng", "cangzhou_yunhe", "xunhuan"])
    }
    if len(users) < 5:
        return {"skipped": "demo users missing"}
    started = timezone.now()
    built = []
    for username, code in (("luquan", "130110"), ("cangzhou_yunhe", "130903"), ("xunhuan", "130172")):
        built += batches_build(programme=programme, district=Region.objects.get(code=code), acting_user=users[username])
    result = {"batches": len(built)}

    luquan = next((b for b in built if b.district_id == "130110" and b.channel == "bank_card"), None)
    if luquan is not None:
        batch = batch_submit(batch=luquan, acting_user=users["luquan"], comment="鹿泉区第一批留岗补贴，请复核")
        batch = batch_review(batch=batch, acting_user=users["shijiazhuang"], comment="已抽查 20 笔，复核无误")
        batch = batch_approve(batch=batch, acting_user=users["sheng"], comment="同意发放")
        batch_export(batch=batch, fmt="csv", acting_user=users["luquan"])
        batch_export(batch=batch, fmt="xlsx", acting_user=users["luquan"])
        batch.refresh_from_db()
        failures = {seq: reason for seq, reason in FAILURES.items() if seq <= batch.line_count}
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "回盘.csv"
            path.write_text(example_result_csv(batch, failures), encoding="utf-8-sig")
            batch_import_results(batch=batch, path=path, acting_user=users["luquan"])
        wrong = batch.lines.filter(failure_reason="账号不存在").first()
        if wrong is not None:
            with transaction.atomic():
                line_correct(
                    line=wrong,
                    account="6217000010002000" + f"{wrong.seq:03d}",
                    bank_name="中国建设银行石家庄鹿泉支行",
                    acting_user=users["luquan"],
                    comment="本人到窗口提供新的银行卡",
                )
            supplement = batch_build_supplement(batch=batch, acting_user=users["luquan"])
            batch_submit(batch=supplement, acting_user=users["luquan"], comment="补发：更正账号后重新发放")
            result["supplement"] = supplement.number
        result["through_chain"] = batch.number

    packets = next((b for b in built if b.district_id == "130172" and b.channel == Channel.RED_PACKET), None)
    if packets is not None:
        result["red_packets"] = _red_packets_through_chain(packets, users)

    cangzhou = next((b for b in built if b.district_id == "130903"), None)
    if cangzhou is not None:
        batch_submit(batch=cangzhou, acting_user=users["cangzhou_yunhe"], comment="运河区留岗红包，请市局复核")
    _date_on_programme_calendar(programme, since=started)
    return result


RED_PACKET_FAILURES = {3: "手机号未注册", 7: "超时未领取已退回"}


def _red_packets_through_chain(batch: Batch, users: dict) -> str:
    batch = batch_submit(batch=batch, acting_user=users["xunhuan"], comment="园区外市留园人员电子红包，请复核")
    batch = batch_review(batch=batch, acting_user=users["shijiazhuang"], comment="已核对手机号与名单，复核无误")
    batch = batch_approve(batch=batch, acting_user=users["sheng"], comment="同意发放")
    batch_export(batch=batch, fmt="csv", acting_user=users["xunhuan"])
    batch.refresh_from_db()
    failures = {seq: reason for seq, reason in RED_PACKET_FAILURES.items() if seq <= batch.line_count}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "红包发放结果.csv"
        path.write_text(red_packet_result_csv(batch, failures), encoding="utf-8-sig")
        batch_import_results(batch=batch, path=path, acting_user=users["xunhuan"])
    return batch.number


# Days after the first day of the demo's batch history, by what happened (the 鹿泉 chain:
# built and submitted, reviewed the next day, approved and exported, paid two days later,
# the failed account corrected and re-issued before the holiday).
DAY_OF = {
    "build": 0,
    "submit": 0,
    "review": 1,
    "approve": 2,
    "export": 2,
    "results": 4,
    "reconcile": 4,
    "correct": 7,
    "supplement": 7,
}
AUDIT_DAY_OF = {
    "batch_build": "build",
    "batch_submit": "submit",
    "batch_review": "review",
    "batch_approve": "approve",
    "batch_export": "export",
    "bank_file_download": "export",
    "batch_results": "results",
    "line_result": "results",
    "batch_reconcile": "reconcile",
    "line_correct": "correct",
    "registration_account_correct": "correct",
    "batch_build_supplement": "supplement",
    "line_reissue": "supplement",
}


def _date_on_programme_calendar(programme: Programme, *, since: dt.datetime) -> None:
    """Date the history just made on the 2021 programme's calendar, not today: a worker's
    lookup then reads "已发放（2021-02-05）" for a 2021 payment. Every timestamp of a kind
    of event moves by the same interval, so the order of events is kept."""
    first = dt.datetime.combine(programme.holiday_start - dt.timedelta(days=10), dt.time(9, 0))
    first = timezone.make_aware(first)

    def shift(kind: str) -> dt.timedelta:
        return first + dt.timedelta(days=DAY_OF[kind]) - since

    # Ids first: the querysets below must not depend on the timestamps they move.
    made = Batch.objects.filter(programme=programme, created_at__gte=since)
    batches = Batch.objects.filter(pk__in=list(made.values_list("pk", flat=True)))
    supplements = Batch.objects.filter(pk__in=list(made.filter(parent__isnull=False).values_list("pk", flat=True)))
    firsts = Batch.objects.filter(pk__in=list(made.filter(parent__isnull=True).values_list("pk", flat=True)))
    firsts.update(created_at=F("created_at") + shift("build"))
    supplements.update(created_at=F("created_at") + shift("supplement"))
    firsts.filter(submitted_at__isnull=False).update(submitted_at=F("submitted_at") + shift("submit"))
    supplements.filter(submitted_at__isnull=False).update(submitted_at=F("submitted_at") + shift("supplement"))
    batches.filter(reviewed_at__isnull=False).update(reviewed_at=F("reviewed_at") + shift("review"))
    batches.filter(approved_at__isnull=False).update(approved_at=F("approved_at") + shift("approve"))
    for action, kind in (("build", "build"), ("submit", "submit"), ("review", "review"), ("approve", "approve")):
        BatchStep.objects.filter(batch__in=firsts, action=action).update(at=F("at") + shift(kind))
    BatchStep.objects.filter(batch__in=supplements).update(at=F("at") + shift("supplement"))
    BatchExport.objects.filter(batch__in=batches).update(exported_at=F("exported_at") + shift("export"))
    lines = PaymentLine.objects.filter(batch__in=batches)
    lines.filter(batch__in=firsts, status__in=["paid", "failed"]).update(updated_at=F("updated_at") + shift("results"))
    lines.filter(batch__in=firsts, status="pending").update(updated_at=F("updated_at") + shift("build"))
    lines.filter(batch__in=supplements).update(updated_at=F("updated_at") + shift("supplement"))
    lines.filter(corrected_at__isnull=False).update(corrected_at=F("corrected_at") + shift("correct"))
    recent = AuditEntry.objects.filter(at__gte=since)
    supplement_ids = [str(pk) for pk in supplements.values_list("pk", flat=True)]
    # What was done to a 补发 batch happened on its day, whatever the action.
    of_supplements = list(
        recent.filter(object_type="disbursements.batch", object_id__in=supplement_ids).values_list("pk", flat=True)
    )
    by_action = {
        action: list(recent.filter(action=action).exclude(pk__in=of_supplements).values_list("pk", flat=True))
        for action in AUDIT_DAY_OF
    }
    AuditEntry.objects.filter(pk__in=of_supplements).update(at=F("at") + shift("supplement"))
    for action, ids in by_action.items():
        AuditEntry.objects.filter(pk__in=ids).update(at=F("at") + shift(AUDIT_DAY_OF[action]))


DEMO_STEPS = [("发放批次（鹿泉区走完审批、导出、回盘与补发）", demo_batches)]
