"""劳动者查询: a worker looks up their own registrations and payments, without an account.

The worker gives ID number, name and the last 4 digits of their phone. The person is
found by the blind index of the ID number (nothing is decrypted); name and phone tail
are compared in constant time. "No such person" and "details don't match" give the
same answer, so the page cannot be used to learn whether somebody is registered.
Attempts are limited per IP address, per (ID number, IP address) and, higher, per ID
number from anywhere, in Redis (the cache), so that nobody can walk through ID numbers
or guess a phone tail, and strangers' tries do not lock the real worker out. Everything shown is masked.
"""

import hmac
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from beneficiaries import pii
from beneficiaries.idcard import IdNumberError, validate_id_number
from beneficiaries.models import Person
from disbursements.choices import EntitlementKind, LineStatus
from disbursements.models import CapRefusal, Entitlement, PaymentLine
from disbursements.services.safeguards import RateLimited, rate_hit

# attempts, window seconds
IP_LIMIT = settings.LOOKUP_IP_LIMIT
# Per (ID number, client): a stranger guessing phone tails from one address is stopped
# after a few tries, without locking the real worker, who asks from another address.
ID_CLIENT_LIMIT = settings.LOOKUP_ID_CLIENT_LIMIT
# Per ID number from anywhere: higher, so that many strangers together cannot lock the
# worker out quickly, yet a distributed guess of the 10,000 tails stays hopeless.
ID_LIMIT = settings.LOOKUP_ID_LIMIT
KEY_PREFIX = "lookup"
NOT_FOUND = gettext_lazy(
    "未查询到与所填信息一致的记录。请核对身份证号、姓名和手机号后四位；如确已登记，请联系用人单位或所在区县人社部门。"
)


@dataclass
class LookupResult:
    found: bool
    name_masked: str = ""
    id_masked: str = ""
    registrations: list = field(default_factory=list)
    payments: list = field(default_factory=list)
    person_id: int | None = None  # for the appeal form (disbursements.services.appeals); never shown


def check_rate(*, ip: str, id_number: str) -> None:
    ip_key = f"{KEY_PREFIX}:ip:{ip}"
    if rate_hit(ip_key, IP_LIMIT):
        raise RateLimited(gettext("查询过于频繁，请稍后再试。"), IP_LIMIT[1])
    if id_number:
        # Keyed by the blind index: the cache never holds an ID number.
        index = pii.blind_index(id_number)
        if rate_hit(f"{KEY_PREFIX}:idc:{index}:{ip}", ID_CLIENT_LIMIT):
            raise RateLimited(gettext("该证件号码查询次数过多，请一小时后再试。"), ID_CLIENT_LIMIT[1])
        if rate_hit(f"{KEY_PREFIX}:id:{index}", ID_LIMIT):
            raise RateLimited(gettext("该证件号码查询次数过多，请一小时后再试。"), ID_LIMIT[1])


def mask_name(name: str) -> str:
    if len(name) <= 1:
        return name
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def worker_lookup(*, id_number: str, name: str, phone_tail: str, ip: str) -> LookupResult:
    """Rate-limited lookup. Raises RateLimited; returns found=False for any mismatch."""
    try:
        number = validate_id_number(id_number).number
    except IdNumberError:
        number = pii.normalize(id_number)
    check_rate(ip=ip, id_number=number)
    person = Person.objects.filter(id_hash=pii.blind_index(number)).first()
    name_ok = _same((person.name if person else "\0").strip(), (name or "").strip())
    # The tail is compared as its keyed digest: the database holds no phone in clear.
    given = pii.phone_tail_digest(person.id_hash, (phone_tail or "").strip()) if person else ""
    tail_ok = _same(person.phone_tail if person and person.phone_tail else "\0", given or "\1")
    if person is None or not (name_ok and tail_ok):
        return LookupResult(found=False)
    return LookupResult(
        found=True,
        name_masked=mask_name(person.name),
        id_masked=person.id_masked,
        registrations=_registrations(person),
        payments=_payments(person),
        person_id=person.pk,
    )


def _registrations(person) -> list[dict]:
    rows = person.registrations.select_related("programme", "employer", "district").order_by("-created_at")
    return [
        {
            "programme": r.programme.name,
            "employer": r.employer.name,
            "district": r.district.name,
            "period": gettext("%(start)s 至 %(end)s")
            % {"start": f"{r.start_date:%Y-%m-%d}", "end": f"{r.end_date:%Y-%m-%d}"},
            "status": r.get_status_display(),
            "account": r.account_masked,
        }
        for r in rows
    ]


def _payments(person) -> list[dict]:
    out = []
    entitlements = Entitlement.objects.filter(person=person).select_related("rule", "programme").order_by("id")
    for ent in entitlements:
        lines = list(PaymentLine.objects.filter(entitlement=ent).select_related("batch").order_by("-id"))
        current = next(
            (ln for ln in lines if ln.status in (LineStatus.PAID, LineStatus.PENDING)), lines[0] if lines else None
        )
        voucher = getattr(ent, "voucher", None) if ent.channel == "e_voucher" else None
        if ent.kind == EntitlementKind.ADJUSTMENT and ent.status == "granted":
            status = gettext("多发核查后追回，请按所在区县人社部门的通知退回")
        elif ent.status != "granted":
            status = ent.get_status_display()
        elif current is None:
            status = gettext("已核定，待发放")
        elif current.status == LineStatus.PAID:
            # The day the bank's result recorded it, in the portal's time zone.
            status = gettext("已发放（%(date)s）") % {"date": f"{timezone.localdate(current.updated_at):%Y-%m-%d}"}
        elif current.status == LineStatus.PENDING:
            status = gettext("补发中") if current.reissue_of_id else gettext("发放中")
        else:
            status = gettext("发放失败：%(reason)s。请联系所在区县人社部门更正账号后补发") % {
                "reason": current.failure_reason
            }
        out.append(
            {
                "programme": ent.programme.name,
                # A 补差 top-up is its own line: "已发放 ¥500" and "补差 ¥100 待发放".
                "rule": ent.rule.name
                if ent.kind == EntitlementKind.BASE
                else gettext("%(rule)s · %(kind)s") % {"rule": ent.rule.name, "kind": ent.get_kind_display()},
                "amount": ent.amount,
                "channel": ent.get_channel_display(),
                "status": status,
                "account": current.account_masked if current else "",
                "voucher": gettext("尾号 %(tail)s，有效期至 %(until)s")
                % {"tail": voucher.code[-4:], "until": f"{voucher.expires_on:%Y-%m-%d}"}
                if voucher
                else "",
            }
        )
    # Turned away by a budget cap: said so, never silently left out.
    refusals = CapRefusal.objects.filter(person=person).select_related("rule", "programme").order_by("id")
    for refusal in refusals:
        out.append(
            {
                "programme": refusal.programme.name,
                "rule": refusal.rule.name,
                "amount": refusal.amount,
                "channel": refusal.rule.get_channel_display(),
                "status": gettext("符合条件，但该项补贴预算已用完，暂未核定；如追加预算，将按登记先后顺序发放"),
                "account": "",
                "voucher": "",
                "refused": True,
            }
        )
    return out
