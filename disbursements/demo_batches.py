"""Demo step: batches of HEBEI-2021, one of them through the whole chain.

鹿泉区's bank-card batch is built by luquan, reviewed by shijiazhuang, approved by
sheng, exported, paid by the "bank" except three lines (户名不符, 账号不存在, 冻结); the
账号不存在 line gets a corrected account and goes into a 补发 batch, submitted and
waiting for the city. 沧州运河区's batch is left submitted, 循环化工园区's as a draft,
so that every role has something in its to-do list. Idempotent: skipped when the
programme already has batches.
"""

import tempfile
from pathlib import Path

from django.db import transaction

from accounts.models import User
from disbursements.bank_results import batch_import_results, example_result_csv
from disbursements.batches import (
    batch_approve,
    batch_build_supplement,
    batch_review,
    batch_submit,
    batches_build,
    line_correct,
)
from disbursements.models import Batch
from disbursements.payment_files import batch_export
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

    cangzhou = next((b for b in built if b.district_id == "130903"), None)
    if cangzhou is not None:
        batch_submit(batch=cangzhou, acting_user=users["cangzhou_yunhe"], comment="运河区留岗红包，请市局复核")
    return result


DEMO_STEPS = [("发放批次（鹿泉区走完审批、导出、回盘与补发）", demo_batches)]
