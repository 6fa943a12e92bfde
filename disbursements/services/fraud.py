"""Fraud signals (风险预警): patterns an officer must look at before money moves.

`signals_compute(programme=…)` finds every pattern of a programme with a handful of
set-based queries (GROUP BY and EXISTS; no loop over workers) and reconciles them
with the stored signals: a new pattern opens a signal, a pattern that went away
closes an open one ("gone"), a cleared pattern that gained a registration opens
again. It runs after every import and computation (the rollup refresh that follows
them sends `rollups_refreshed`, see `disbursements/apps.py`) as a job of its own,
debounced per programme (`disbursements/tasks.py`).

| kind | found when | severity |
|---|---|---|
| shared_account | ≥ N workers (default 3) behind one bank account, by blind index, across employers | high |
| shared_phone | ≥ N workers behind one phone number | medium |
| employer_over_survey | an employer registers more stayers (migrant workers) than its district's 摸排 留岗 count | medium |
| district_over_survey | a district's registered stayers exceed its latest approved 摸排 留岗 count | medium |
| overlapping_stays | one person registered in two districts for overlapping stays | high |
| implausible_age | under 16 or over 75 (settable) on the programme's first day | high |
| late_registration | a registration created after the programme's registration deadline | low |
| stacking | employer-funded and public schemes for one person at one employer, where forbidden | high |

A high-severity signal that is open, or confirmed, holds its registrations'
entitlements out of batches (`held_registration_ids`, used by the batch build) and
blocks the submission of a draft batch that already has their lines. An officer
clears it (a note is required: the lines are released) or confirms it (the
registrations stay held: suspended). Both are audited.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

from django.core.cache import cache
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from accounts.choices import Role
from accounts.models import User
from accounts.services.audit import audit_record
from beneficiaries.holds import Hold
from core.errors import ConflictError, DomainError, PermissionDenied
from disbursements.choices import LineStatus, Severity, SignalKind, SignalStatus
from disbursements.models import Batch, FraudSignal, FraudSignalMember, PaymentLine
from disbursements.services.fraud_patterns import signals_find
from disbursements.services.safeguards import clean_text
from programs.models import Programme

SEVERITY = {
    SignalKind.SHARED_ACCOUNT: Severity.HIGH,
    SignalKind.SHARED_PHONE: Severity.MEDIUM,
    SignalKind.EMPLOYER_OVER_SURVEY: Severity.MEDIUM,
    SignalKind.DISTRICT_OVER_SURVEY: Severity.MEDIUM,
    SignalKind.OVERLAPPING_STAYS: Severity.HIGH,
    SignalKind.IMPLAUSIBLE_AGE: Severity.HIGH,
    SignalKind.LATE_REGISTRATION: Severity.LOW,
    SignalKind.STACKING: Severity.HIGH,
}


# --------------------------------------------------------------------------- holds


def held_registration_ids():
    """Registrations held out of batches: members of a high signal that is open or confirmed."""
    return FraudSignalMember.objects.filter(
        signal__severity=Severity.HIGH, signal__status__in=[SignalStatus.OPEN, SignalStatus.CONFIRMED]
    ).values("registration_id")


def registration_holds(registration) -> list[Hold]:
    """The high signals holding `registration` (shown on its page; see beneficiaries.holds)."""
    signals = FraudSignal.objects.filter(
        members__registration=registration,
        severity=Severity.HIGH,
        status__in=[SignalStatus.OPEN, SignalStatus.CONFIRMED],
    ).order_by("pk")
    holds = []
    for signal in signals:
        confirmed = signal.status == SignalStatus.CONFIRMED
        text = (
            gettext("已暂停发放：风险预警 #%(id)s（%(kind)s）经核查确认，本登记的补贴不进入发放批次。")
            if confirmed
            else gettext("暂缓发放：风险预警 #%(id)s（%(kind)s）待核查，排除之前本登记的补贴不进入发放批次。")
        ) % {"id": signal.pk, "kind": signal.get_kind_display()}
        holds.append(Hold(text=text, url=reverse("signals:detail", args=[signal.pk]), suspended=confirmed))
    return holds


def held_lines(batch: Batch):
    """The pending lines of `batch` whose registration is held."""
    return PaymentLine.objects.filter(
        batch=batch, status=LineStatus.PENDING, entitlement__registration_id__in=held_registration_ids()
    )


# --------------------------------------------------------------------------- storing


def signals_compute(*, programme: Programme, step: Callable[[int], None] | None = None) -> dict:
    """Find the programme's patterns and reconcile the stored signals with them.

    `step(n)` reports the n-th pattern looked for (a job's progress), before the one
    transaction that stores them."""
    now = timezone.now()
    found = signals_find(programme, step=step)
    stats = {"opened": 0, "reopened": 0, "gone": 0, "kept": 0}
    with transaction.atomic():
        existing = {(s.kind, s.key): s for s in FraudSignal.objects.select_for_update().filter(programme=programme)}
        members_of = defaultdict(set)
        for signal_id, reg_id in FraudSignalMember.objects.filter(signal__programme=programme).values_list(
            "signal_id", "registration_id"
        ):
            members_of[signal_id].add(reg_id)
        seen = set()
        for g in found:
            ident = (g["kind"], g["key"])
            seen.add(ident)
            fields = dict(
                district_id=g["district_id"],
                severity=SEVERITY[g["kind"]],
                summary=g["summary"],
                detail=g["detail"],
                employer_id=g["employer_id"],
                member_count=g["count"],
                last_seen=now,
            )
            signal = existing.get(ident)
            if signal is None:
                signal = FraudSignal.objects.create(
                    programme=programme, kind=g["kind"], key=g["key"], first_seen=now, **fields
                )
                stats["opened"] += 1
            else:
                new_members = set(g["members"]) - members_of[signal.pk]
                reopen = signal.status == SignalStatus.GONE or (signal.status == SignalStatus.CLEARED and new_members)
                if reopen:
                    audit_record(
                        user=None,
                        action="signal_reopen",
                        obj=signal,
                        changes={
                            "status": [signal.status, SignalStatus.OPEN],
                            "new_registrations": sorted(new_members),
                        },
                    )
                    fields["status"] = SignalStatus.OPEN
                    stats["reopened"] += 1
                else:
                    stats["kept"] += 1
                FraudSignal.objects.filter(pk=signal.pk).update(**fields)
            wanted = set(g["members"])
            have = members_of.get(signal.pk, set())
            if wanted != have:
                FraudSignalMember.objects.filter(signal=signal, registration_id__in=have - wanted).delete()
                FraudSignalMember.objects.bulk_create(
                    [FraudSignalMember(signal=signal, registration_id=r) for r in sorted(wanted - have)],
                    batch_size=2000,
                )
        gone = [s.pk for ident, s in existing.items() if ident not in seen and s.status == SignalStatus.OPEN]
        if gone:
            stats["gone"] = FraudSignal.objects.filter(pk__in=gone).update(status=SignalStatus.GONE, last_seen=now)
        signals_changed(programme.pk)
    return stats


# --------------------------------------------------------------------------- decisions


def may_decide(user: User, signal: FraudSignal) -> bool:
    if user.is_superuser:
        return True
    if user.role != Role.DISTRICT or user.region_id is None:
        return False
    return FraudSignal.objects.for_user(user).filter(pk=signal.pk).exists()


def _decide(*, signal: FraudSignal, acting_user: User, note: str, target: str, action: str) -> FraudSignal:
    note = clean_text(note, max_length=500)
    if not note:
        raise DomainError("请填写核查意见。", errors={"note": ["请填写核查意见"]})
    if not may_decide(acting_user, signal):
        raise PermissionDenied("只有涉及区县的人社专员可以处理风险预警。")
    with transaction.atomic():
        updated = FraudSignal.objects.filter(pk=signal.pk, status=SignalStatus.OPEN).update(
            status=target, note=note, decided_by=acting_user, decided_at=timezone.now()
        )
        if updated != 1:
            raise ConflictError("该预警已经处理过了，请刷新页面。")
        members = list(signal.members.values_list("registration_id", flat=True))
        audit_record(
            user=acting_user,
            action=action,
            obj=signal,
            changes={
                "status": [SignalStatus.OPEN, target],
                "registrations": members,
                "held": target == SignalStatus.CONFIRMED and signal.severity == Severity.HIGH,
            },
            comment=note,
        )
        signals_changed(signal.programme_id)
    signal.refresh_from_db()
    return signal


def signal_clear(*, signal: FraudSignal, acting_user: User, note: str) -> FraudSignal:
    """The officer checked and found nothing wrong: the held lines are released."""
    return _decide(
        signal=signal, acting_user=acting_user, note=note, target=SignalStatus.CLEARED, action="signal_clear"
    )


def signal_confirm(*, signal: FraudSignal, acting_user: User, note: str) -> FraudSignal:
    """The officer confirms the pattern: its registrations stay held (suspended)."""
    return _decide(
        signal=signal, acting_user=acting_user, note=note, target=SignalStatus.CONFIRMED, action="signal_confirm"
    )


def open_signals_by_district(user: User, programme: Programme | None = None, *, region=None) -> list[dict]:
    """Open signals in the user's scope (and `region`), counted by district (the dashboard panel)."""
    qs = FraudSignal.objects.for_user(user).filter(status=SignalStatus.OPEN)
    if programme is not None:
        qs = qs.filter(programme=programme)
    if region is not None:
        qs = qs.filter(district__path__startswith=region.path)
    rows = (
        qs.values("district_id", "district__name")
        .annotate(n=Count("id"), high=Count("id", filter=Q(severity=Severity.HIGH)))
        .order_by("-high", "-n", "district_id")
    )
    return [{"code": r["district_id"], "name": r["district__name"], "open": r["n"], "high": r["high"]} for r in rows]


# The dashboard reads the open signals on every request (a fifth of its CPU): they are cached
# per programme, scope and region under a version that every change of a programme's
# signals moves (a computation, a decision), once its transaction commits.
SIGNALS_VERSION_KEY = "signals-version:{}"


def signals_changed(programme_id: int) -> None:
    def bump():
        cache.set(SIGNALS_VERSION_KEY.format(programme_id), time.time_ns(), None)

    transaction.on_commit(bump, robust=True)


def open_signals_by_district_cached(user: User, programme: Programme, *, region, seconds: int = 600) -> list[dict]:
    """`open_signals_by_district`, cached until the programme's signals change (and at most
    `seconds`, for a change made behind the services' back)."""
    version = cache.get(SIGNALS_VERSION_KEY.format(programme.pk)) or "-"
    scope = "all" if user.sees_everything or user.region_id is None else user.region_id
    key = f"signals-open:{programme.pk}:{programme.created_at.timestamp()}:{version}:{scope}:{region.path}"
    rows = cache.get(key)
    if rows is None:
        rows = open_signals_by_district(user, programme, region=region)
        cache.set(key, rows, seconds)
    return rows
