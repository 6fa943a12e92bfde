"""Settled money: what a rule change may and may not do to money already paid.

An entitlement with a paid line, or a pending one in an approved batch, is settled: it stays counted at the
version and amount that paid it (in reconciliation, dashboards, the worker lookup and
every export), and no computation rewrites it. For a (person, rule key) with settled
money the computation compares what the rules in force grant now (`target`) with what
is settled (`settled` = settled rows + recoveries):

Money is settled once paid, or pending in a batch the province has approved; a line
pending in a batch not yet approved is taken out when its entitlement changes
(batch_lines.lines_pull_unapproved) and the next build batches the new amount.

* target > settled: the difference is a 补差 top-up — its own Entitlement row
  (kind topup, pinned to the version in force, batched like any other). If the base row
  itself is not settled (its line failed), the base row carries the difference instead.
  Settled + top-up = target, to the fen.
* target < settled (a lowered amount, or a person no longer qualifying): nothing is
  clawed back. The key is listed as an Overpayment (多发/待核查) of its district with the
  amount, the versions and the reason; an officer decides there (`overpayment_decide`):
  keep, or recover — a negative `adjustment` Entitlement, never an edit of the paid line.
* target = settled: nothing to add; an unsettled top-up is withdrawn, an open item cleared.

Retiring a rule stops the scheme: keys without an active version get no top-up and are
not listed (what they paid stays settled).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.choices import Role
from accounts.models import AuditEntry
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from beneficiaries.models import Registration
from core.errors import ConflictError, DomainError, PermissionDenied
from core.money import ZERO, to_yuan
from disbursements import sql
from disbursements.choices import EntitlementKind, EntitlementStatus, LineStatus, OverpaymentStatus
from disbursements.models import Entitlement, Overpayment, PaymentLine
from disbursements.services.batch_lines import UNAPPROVED, lines_pull_unapproved
from disbursements.services.rollups import rollups_refresh_soon
from programs.models import SubsidyRule

LIVE = (LineStatus.PENDING, LineStatus.PAID)


def _live_line():
    """Settled: a paid line, or a pending one in an approved (or later) batch."""
    return PaymentLine.objects.filter(entitlement=OuterRef("pk")).filter(
        Q(status=LineStatus.PAID) | Q(status=LineStatus.PENDING, batch__status__in=sql.SETTLED_BATCH)
    )


def settle_district(
    *,
    cursor,
    programme,
    district: str | None,
    active_keys: set[str],
    at,
    user_id: int | None,
    person_id: int | None = None,
) -> dict[str, int]:
    """Top-ups and overpayments of one district's keys with settled money, inside the
    district's computation (its transaction and advisory lock), whose temporary table
    holds what the rules grant now. Every change leaves an audit row. With `person_id`
    (disbursements.services.person_compute): that person's keys, wherever they are; the
    temporary table then holds what the rules grant them in every district."""
    if person_id is not None:
        cursor.execute(sql.PERSON_SETTLEMENT_MISMATCHES, {"programme_id": programme.pk, "person_id": person_id})
    else:
        cursor.execute(sql.SETTLEMENT_MISMATCHES, {"programme_id": programme.pk, "district": district})
    stats = {"topups": 0, "flagged": 0, "withdrawn": 0}
    audits: list[AuditEntry] = []
    for _base_id, key_person, rule_key, base_district, settled, _unsettled, *now_granted in cursor.fetchall():
        t_amount = now_granted[0]
        if (
            t_amount is None
            and person_id is None
            and base_district == district
            and _moved_away(programme, key_person, district)
        ):
            continue  # registered elsewhere now: that district's computation settles the key
        key = _Key(programme, key_person, rule_key, to_yuan(settled or ZERO), *now_granted)
        _settle_key(key, rule_key in active_keys, at, user_id, stats, audits)
    AuditEntry.objects.bulk_create(audits)
    return stats


@dataclass
class _Key:
    """A (person, rule key) with settled money, and what the rules grant it now (the
    candidate's amount, rule, registration, district and channel; None: nothing)."""

    programme: object
    person_id: int
    rule_key: str
    settled: Decimal
    amount: Decimal | None
    rule_id: int | None
    registration_id: int | None
    district_id: str | None
    channel: str | None

    @property
    def target(self) -> Decimal:
        return to_yuan(self.amount) if self.amount is not None else ZERO


def _moved_away(programme, person_id: int, district: str) -> bool:
    return (
        Registration.objects.filter(programme=programme, person_id=person_id, status="active")
        .exclude(district_id=district)
        .exists()
    )


def _settle_key(key: _Key, active: bool, at, user_id, stats: dict, audits: list) -> None:
    """Grant what is still owed (the base row while unpaid, else a 补差 top-up), withdraw
    the open rows no longer needed, and flag an overpayment (or clear one now settled)."""
    need = key.target - key.settled
    key_rows = list(
        Entitlement.objects.filter(programme=key.programme, person_id=key.person_id, rule_key=key.rule_key)
        .exclude(kind=EntitlementKind.ADJUSTMENT)
        .annotate(live=Exists(_live_line()))
        .order_by("kind", "part")
    )
    base = next(r for r in key_rows if r.kind == EntitlementKind.BASE)
    open_rows = [r for r in key_rows if not r.live]
    keep = _grant_need(key, need, base, key_rows, open_rows, at, user_id, stats, audits) if need > 0 else None
    for row in open_rows:
        if row is keep or row.status != EntitlementStatus.GRANTED:
            continue
        _pull([row.pk], at, user_id)
        row.status, row.computed_at = EntitlementStatus.WITHDRAWN, at
        row.save(update_fields=["status", "computed_at"])
        stats["withdrawn"] += 1
        audits.append(_audit(at, user_id, row.pk, {"status": ["granted", "withdrawn"]}, "已发放部分已足额：撤销"))
    item = Overpayment.objects.filter(
        programme=key.programme, person_id=key.person_id, rule_key=key.rule_key, status=OverpaymentStatus.OPEN
    ).first()
    if need < 0 and active:
        stats["flagged"] += _flag(
            key.programme,
            base,
            item,
            key.settled,
            key.target,
            key.rule_id,
            key.rule_key,
            key.person_id,
            at,
            user_id,
            audits,
        )
    elif item is not None and need >= 0:
        item.status, item.updated_at = OverpaymentStatus.CLEARED, at
        item.note = "重新计算后已发金额与现行规则一致，自动解除"
        item.save(update_fields=["status", "updated_at", "note"])
        audits.append(_audit(at, user_id, item.pk, {"status": ["open", "cleared"]}, item.note, kind="overpayment"))


def _grant_need(key: _Key, need, base, key_rows, open_rows, at, user_id, stats: dict, audits: list):
    """The row that carries what is still owed: the base row while it has no live line,
    else the next top-up slot (reused when open). Returns it."""
    if not base.live:
        keep = base
    else:
        slot = 1 + max((r.part for r in key_rows if r.kind == EntitlementKind.TOPUP and r.live), default=0)
        keep = next((r for r in open_rows if r.kind == EntitlementKind.TOPUP and r.part == slot), None)
        if keep is None:
            keep = Entitlement(
                programme=key.programme,
                rule_key=key.rule_key,
                person_id=key.person_id,
                kind=EntitlementKind.TOPUP,
                part=slot,
                status=EntitlementStatus.WITHDRAWN,  # set below, with the audit
                amount=ZERO,
                rule_id=key.rule_id,
                registration_id=key.registration_id,
                district_id=key.district_id,
                channel=key.channel,
            )
    before = (keep.amount, keep.status, keep.rule_id) if keep.pk else (None, None, None)
    keep.amount, keep.status, keep.rule_id = need, EntitlementStatus.GRANTED, key.rule_id
    keep.registration_id, keep.district_id, keep.channel = key.registration_id, key.district_id, key.channel
    keep.computed_at = at
    if keep.kind == EntitlementKind.TOPUP:
        keep.reason = {"补差": str(need), "已发": str(key.settled), "现行金额": str(key.target)}
    if before == (keep.amount, keep.status, keep.rule_id):
        return keep
    if keep.pk:
        _pull([keep.pk], at, user_id)
        keep.save(
            update_fields=["amount", "status", "rule", "registration", "district", "channel", "computed_at", "reason"]
        )
    else:
        keep.save()
    stats["topups"] += 1 if keep.kind == EntitlementKind.TOPUP else 0
    audits.append(
        _audit(
            at,
            user_id,
            keep.pk,
            {"amount": [_s(before[0]), str(need)], "status": [before[1], "granted"], "rule": [before[2], key.rule_id]},
            "规则调整：已发放部分不变，差额补发（补差）" if keep.kind == EntitlementKind.TOPUP else "重新计算",
        )
    )
    return keep


def _pull(entitlement_ids: list[int], at, user_id) -> None:
    """Lines of these (unsettled) entitlements pending in batches not yet approved are
    taken out: the entitlement changes, the next build batches it again."""
    ids = list(
        PaymentLine.objects.filter(
            entitlement_id__in=entitlement_ids, status=LineStatus.PENDING, batch__status__in=UNAPPROVED
        ).values_list("pk", flat=True)
    )
    lines_pull_unapproved(
        line_ids=ids, reason="规则或登记信息变化，批次审批前按新的核定重新生成", user_id=user_id, at=at
    )


def _flag(programme, base, item, settled, target, t_rule, rule_key, person_id, at, user_id, audits) -> int:
    """List (or update) the key's open overpayment; 1 when something was written."""
    new_rule = t_rule or (
        SubsidyRule.objects.filter(programme=programme, rule_key=rule_key, status="active")
        .values_list("pk", flat=True)
        .first()
    )
    amount = settled - target
    reason = "现行规则金额下调" if target > 0 else "按现行规则不再符合条件"
    if item is None:
        decided = (
            Overpayment.objects.filter(programme=programme, person_id=person_id, rule_key=rule_key)
            .exclude(status__in=[OverpaymentStatus.OPEN, OverpaymentStatus.CLEARED])
            .order_by("-id")
            .first()
        )
        if decided is not None and decided.new_amount == target and decided.settled_amount == settled:
            return 0  # decided already (kept): listed once, not again every run
        item = Overpayment.objects.create(
            programme=programme,
            district_id=base.district_id,
            person_id=person_id,
            rule_key=rule_key,
            entitlement=base,
            paid_rule_id=base.rule_id,
            new_rule_id=new_rule,
            settled_amount=settled,
            new_amount=target,
            amount=amount,
            reason=reason,
            created_at=at,
            updated_at=at,
        )
        audits.append(
            _audit(
                at,
                user_id,
                item.pk,
                {"amount": [None, str(amount)], "settled": str(settled), "new_amount": str(target)},
                reason,
                kind="overpayment",
            )
        )
        return 1
    if (item.amount, item.new_amount, item.settled_amount, item.new_rule_id) == (amount, target, settled, new_rule):
        return 0
    audits.append(
        _audit(
            at,
            user_id,
            item.pk,
            {"amount": [str(item.amount), str(amount)], "new_amount": [str(item.new_amount), str(target)]},
            reason,
            kind="overpayment",
        )
    )
    item.amount, item.new_amount, item.settled_amount, item.new_rule_id = amount, target, settled, new_rule
    item.reason, item.updated_at = reason, at
    item.save(update_fields=["amount", "new_amount", "settled_amount", "new_rule", "reason", "updated_at"])
    return 1


def _s(value) -> str | None:
    return None if value is None else str(value)


def _audit(at, user_id, object_id, changes, comment, *, kind="entitlement") -> AuditEntry:
    return AuditEntry(
        at=at,
        user_id=user_id,
        action="entitlement_recompute" if kind == "entitlement" else "overpayment_flag",
        object_type=f"disbursements.{kind}",
        object_id=str(object_id),
        changes=changes,
        comment=comment[:500],
    )


# --------------------------------------------------------------------------- deciding

DECISIONS = {"keep": OverpaymentStatus.KEPT, "recover": OverpaymentStatus.RECOVERED}


def can_decide_overpayment(user, item: Overpayment) -> bool:
    """District officers of the item's district, city or province staff above it."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user):
        return True
    if user.role not in (Role.DISTRICT, Role.CITY, Role.PROVINCE) or user.region_id is None:
        return False
    return item.district.path.startswith(user.region.path)


def overpayment_decide(*, item: Overpayment, decision: str, note: str, acting_user) -> Overpayment:
    """Record an officer's decision on an open 多发 item: keep (不予追回) or recover (追回).
    A recovery adds an `adjustment` Entitlement of −amount to the key (the paid line is
    left as the bank paid it), so entitled = paid + failed + pending + adjustments still
    holds. The note is required: the decision is a money decision."""
    if decision not in DECISIONS:
        raise DomainError("请选择处理方式：不予追回，或追回。", errors={"decision": "请选择处理方式。"})
    note = (note or "").strip()
    if not note:
        raise DomainError("请填写处理意见（依据、经办情况）。", errors={"note": "请填写处理意见。"})
    if not can_decide_overpayment(acting_user, item):
        raise PermissionDenied("只有本区县人社专员或上级人社部门可以处理多发记录。")
    with transaction.atomic():
        # Two officers deciding at once: the row lock makes the second see "decided".
        item = Overpayment.objects.select_for_update().get(pk=item.pk)
        if item.status != OverpaymentStatus.OPEN:
            raise ConflictError(f"该记录已处理（{item.get_status_display()}）。")
        now = timezone.now()
        base = item.entitlement
        if decision == "recover":
            item.adjustment = Entitlement.objects.create(
                programme_id=item.programme_id,
                rule_id=item.new_rule_id or item.paid_rule_id,
                rule_key=item.rule_key,
                person_id=item.person_id,
                registration_id=base.registration_id,
                district_id=item.district_id,
                channel=base.channel,
                amount=-item.amount,
                kind=EntitlementKind.ADJUSTMENT,
                part=item.pk,
                status=EntitlementStatus.GRANTED,
                reason={"追回": str(item.amount), "多发记录": item.pk, "意见": note[:200]},
                computed_at=now,
            )
            audit_record(
                user=acting_user,
                action="entitlement_adjust",
                obj=item.adjustment,
                changes={"amount": [None, str(-item.amount)], "overpayment": item.pk},
                comment=note,
            )
        before = item.status
        item.status, item.note, item.decided_by, item.decided_at, item.updated_at = (
            DECISIONS[decision],
            note[:500],
            acting_user,
            now,
            now,
        )
        item.save(update_fields=["status", "note", "decided_by", "decided_at", "updated_at", "adjustment"])
        audit_record(
            user=acting_user,
            action="overpayment_decide",
            obj=item,
            changes={"status": [before, item.status], "amount": str(item.amount)},
            comment=note,
        )
        rollups_refresh_soon(item.programme_id, districts=[item.district_id])
    return item


def overpayments_for(user, *, programme=None, district=None, status: str | None = OverpaymentStatus.OPEN):
    """The 多发/待核查 list in the user's scope."""
    qs = Overpayment.objects.for_user(user).select_related("district", "person", "paid_rule", "new_rule", "decided_by")
    if programme is not None:
        qs = qs.filter(programme=programme)
    if district is not None:
        qs = qs.filter(district__path__startswith=district.path)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("district_id", "rule_key", "id")


def open_overpayments_by_district(programme, district=None) -> dict[str, tuple[int, Decimal]]:
    qs = Overpayment.objects.filter(programme=programme, status=OverpaymentStatus.OPEN)
    if district is not None:
        qs = qs.filter(district__path__startswith=district.path)
    out: dict[str, tuple[int, Decimal]] = {}
    for code, amount in qs.values_list("district_id", "amount"):
        n, total = out.get(code, (0, ZERO))
        out[code] = (n + 1, total + amount)
    return out
