"""Demo step: 公示, fraud signals and appeals on HEBEI-2021.

- The programme requires 公示 in 鹿泉区 and in 沧州市; stacking of employer-funded and
  public schemes is forbidden.
- New 鹿泉 registrations (made now, so after the 2021 deadline: a low signal per
  employer) among them four workers of two employers sharing one bank account, three
  沧州 workers sharing a phone, a 13-year-old, one worker registered in 鹿泉 and in 沧州
  for overlapping stays, and two workers of a 鹿泉 employer that also pays its own red
  packet (stacking). The survey counts already put districts over their 摸排 figure.
- 鹿泉's second bank-card batch (the clean new workers; the held ones stay out) under an
  open notice with one objection; the officer cannot submit it yet.
- Two appeals: one from the worker whose 鹿泉 payment failed, resolved by the 补发;
  one still open.

Idempotent: skipped when the programme already has a notice (and before the batch
demo has run: the resolved appeal is about its 补发).
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from accounts.models import User
from beneficiaries.choices import Ownership
from beneficiaries.models import Employer
from beneficiaries.services.employers import employer_register, employer_verify
from beneficiaries.services.registrations import registration_create
from beneficiaries.synthetic import id_check_char
from beneficiaries.uscc import make_uscc
from disbursements.models import Batch, Notice, PaymentLine, ProgrammeSafeguards, PublicityRequirement
from disbursements.services.appeals import appeal_file_worker, appeal_resolve
from disbursements.services.batches import batches_build
from disbursements.services.entitlements import entitlements_compute
from disbursements.services.fraud import signals_compute
from disbursements.services.publicity import notice_create, objection_file
from programs.choices import Channel, RuleKind
from programs.models import Programme, SubsidyRule
from programs.services import rule_activate, rule_create
from regions.models import Region

PROGRAMME_CODE = "HEBEI-2021"
SHARED_ACCOUNT = "6217000010020210214"
SHARED_PHONE = "13831700000"


def _id(address: str, birth: str, seq: int) -> str:
    first17 = f"{address}{birth}{seq:03d}"
    return first17 + id_check_char(first17)


def _register(officer, employer, programme, n, *, name, address="410102", birth="19880315", **extra):
    fields = dict(
        acting_user=officer,
        employer=employer,
        programme=programme,
        id_number=_id(address, birth, n),
        name=name,
        phone=extra.pop("phone", f"1590311{n:04d}"),
        start_date=dt.date(2021, 1, 25),
        end_date=dt.date(2021, 3, 5),
        duty_days=extra.pop("duty_days", 5),
        bank_name="中国农业银行石家庄鹿泉支行",
        account=extra.pop("account", f"62284800{n:011d}"),
    )
    fields.update(extra)
    return registration_create(**fields)


def _employer(admin, officer, key: str, district: str, name: str, ownership=Ownership.PRIVATE) -> Employer:
    code = make_uscc("91", district, key)
    found = Employer.objects.filter(credit_code=code).first()
    if found is None:
        found = employer_register(
            acting_user=admin, credit_code=code, name=name, ownership=ownership, district=district
        )
    return employer_verify(employer=found, acting_user=officer)


@transaction.atomic
def demo_trust() -> dict:
    programme = Programme.objects.filter(code=PROGRAMME_CODE).first()
    if programme is None:
        return {"skipped": "no programme"}
    if Notice.objects.filter(programme=programme).exists():
        return {"skipped": "已加载"}
    if not Batch.objects.filter(programme=programme).exists():
        return {"skipped": "no batches"}  # builds on the batch demo (鹿泉's first batch and its 补发)
    users = {u.username: u for u in User.objects.filter(username__in=["luquan", "cangzhou_yunhe", "admin"])}
    if len(users) < 3:
        return {"skipped": "demo users missing"}
    luquan, yunhe, admin = users["luquan"], users["cangzhou_yunhe"], users["admin"]

    # The programme's settings.
    for code in ("130110", "130900"):
        PublicityRequirement.objects.get_or_create(programme=programme, region=Region.objects.get(code=code))
    ProgrammeSafeguards.objects.update_or_create(programme=programme, defaults={"forbid_stacking": True})
    both, stacking, registered = _workers(programme, luquan, yunhe, admin)
    for code in ("130110", "130903"):
        entitlements_compute(programme=programme, district=code, acting_user=admin)
    signals = signals_compute(programme=programme)
    result = {"signals": signals, "registrations": registered, "both": both.pk}
    result.update(_second_batch_notice(programme, luquan))
    _appeals(programme, luquan, stacking)
    return result


def _workers(programme, luquan, yunhe, admin):
    """New 鹿泉 and 沧州 workers, each pattern the signals look for among them, and 福瑞商贸's
    own red packet. Returns (the worker registered twice, the stacking pair, how many)."""
    hengda = _employer(admin, luquan, "TR130001", "130110", "鹿泉区恒信建筑劳务有限公司", Ownership.CONSTRUCTION)
    furui = _employer(admin, luquan, "TR130002", "130110", "鹿泉区福瑞商贸有限公司")
    anda = _employer(admin, luquan, "TR130004", "130110", "鹿泉区安达运输有限公司")
    yunhe_firm = _employer(admin, yunhe, "TR130003", "130903", "沧州运河区鑫达物流有限公司")
    clean = ["孙建国", "周海燕", "吴志强", "郑丽娟", "冯德胜", "陈晓东", "欧阳娜娜", "褚卫东"]
    for i, name in enumerate(clean):
        _register(luquan, hengda, programme, 700 + i, name=name)
    shared = ["马春生", "马秋生", "马冬生", "刘桂兰"]
    for i, name in enumerate(shared):  # four workers, two employers, one account
        _register(luquan, hengda if i < 2 else anda, programme, 720 + i, name=name, account=SHARED_ACCOUNT)
    for i, name in enumerate(["何文斌", "何文杰", "何文涛"]):  # one phone behind three workers
        _register(yunhe, yunhe_firm, programme, 730 + i, name=name, phone=SHARED_PHONE, address="371302")
    _register(luquan, hengda, programme, 740, name="王小虎", birth="20071001")  # 13 on the first day
    both = _register(luquan, hengda, programme, 741, name="高永福", address="411302")
    _register(yunhe, yunhe_firm, programme, 741, name="高永福", address="411302", start_date=dt.date(2021, 2, 1))
    stacking = [_register(luquan, furui, programme, 750 + i, name=n) for i, n in enumerate(["韩梅", "韩雪"])]
    _furui_red_packet(programme, furui, admin)
    return both, stacking, len(clean) + 13 + len(stacking)


def _furui_red_packet(programme, furui, admin) -> None:

    # 福瑞商贸 pays its own red packet, which the programme does not allow on top.
    if not SubsidyRule.objects.filter(programme=programme, rule_key="FURUI-RED").exists():
        rule = rule_create(
            programme=programme,
            rule_key="FURUI-RED",
            acting_user=admin,
            data={
                "name": "福瑞商贸春节留岗红包（企业自发）",
                "region": Region.objects.get(code="130110"),
                "kind": RuleKind.EMPLOYER_FUNDED,
                "amount": Decimal("300"),
                "channel": Channel.EMPLOYER,
                "conditions": {"employer_codes": [furui.credit_code]},
                "description": "鹿泉区福瑞商贸有限公司自行发放的留岗红包（演示：与政府补贴叠加）。",
            },
        )
        rule_activate(rule=rule, acting_user=admin)


def _second_batch_notice(programme, luquan) -> dict:
    """鹿泉's second batch (the held workers stay out of it), published, with an objection."""
    built = batches_build(programme=programme, district=Region.objects.get(code="130110"), acting_user=luquan)
    batch = next((b for b in built if b.channel == Channel.BANK_CARD), None)
    if batch is None:
        return {}
    notice = notice_create(
        batch=batch,
        acting_user=luquan,
        contact_phone="0311-82015678",
        title="鹿泉区2021年稳岗留工补贴第二批拟发放人员名单公示",
    )
    line = notice.lines.order_by("seq").first()
    objection_file(
        notice=notice,
        line_seq=line.seq,
        reason="此人是我邻居，春节前已经回河南老家过年了，并没有留在鹿泉。",
        contact="",
        ip="demo",
    )
    return {"batch": batch.number, "notice": notice.pk}


def _appeals(programme, luquan, stacking) -> None:
    """The worker whose payment failed (resolved by the 补发), and one appeal still open."""
    reissue = (
        PaymentLine.objects.filter(batch__programme=programme, batch__district_id="130110", reissue_of__isnull=False)
        .select_related("entitlement__person", "entitlement__registration")
        .first()
    )
    if reissue is not None:
        appeal = appeal_file_worker(
            person=reissue.entitlement.person,
            registration_id=reissue.entitlement.registration_id,
            kind="not_paid",
            text="单位说补贴已经发了，但我的银行卡一直没有收到。",
        )
        appeal_resolve(
            appeal=appeal,
            acting_user=luquan,
            outcome="reissued",
            resolution="原账号不存在导致发放失败，已按您更正后的账号补发，请留意到账。",
        )
    appeal_file_worker(
        person=stacking[0].person,
        registration_id=stacking[0].pk,
        kind="wrong_amount",
        text="我听说鹿泉的补贴是500元，为什么我的还没有核定？",
    )


DEMO_STEPS = [("公示、风险预警与申诉（鹿泉第二批公示与异议，各类预警，两件申诉）", demo_trust)]
