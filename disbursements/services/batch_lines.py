"""A batch's lines as other services change them: which channels are paid, the batches
whose lines may still be taken out (not yet approved), and the count, total and
numbering of a batch redone after lines were added or removed. Below batches.py, so
that 公示, settlement and the entitlement computation can change lines without
importing the approval chain (which imports them)."""

from django.db import models
from django.db.models import Count, F, Sum

from accounts.models import AuditEntry
from core.money import ZERO
from disbursements.choices import BatchStatus, LineStatus
from disbursements.models import Batch, PaymentLine
from programs.choices import Channel

# Channels the programme pays; "employer" (企业自发) is recorded for statistics only.
PAID_CHANNELS = [
    Channel.BANK_CARD,
    Channel.SOCIAL_SECURITY_CARD,
    Channel.E_VOUCHER,
    Channel.RED_PACKET,
    Channel.CASH,
]


def batch_close_gaps(batch: Batch) -> None:
    """Rows skipped by ON CONFLICT leave holes in seq: renumber 1..n (rare path)."""
    top = PaymentLine.objects.filter(batch=batch).aggregate(m=models.Max("seq"))["m"] or 0
    if top == batch.line_count:
        return
    ids = list(PaymentLine.objects.filter(batch=batch).order_by("seq").values_list("id", flat=True))
    PaymentLine.objects.filter(batch=batch).update(seq=F("seq") + 1_000_000_000)
    for seq, pk in enumerate(ids, start=1):
        PaymentLine.objects.filter(pk=pk).update(seq=seq)


UNAPPROVED = (BatchStatus.DRAFT, BatchStatus.SUBMITTED, BatchStatus.REVIEWED)


def lines_pull_unapproved(*, line_ids: list[int], reason: str, user_id: int | None, at) -> int:
    """Take pending lines out of batches not yet approved, because their entitlement
    changed before approval (a rule change, a correction). Money is settled only once a
    batch is approved: until then the line is rebuilt from the new entitlement by the next
    build. Each removal is audited (what the line was, in which batch); the batch's count,
    total and numbering are redone. Runs inside the caller's transaction."""
    if not line_ids:
        return 0
    lines = list(PaymentLine.objects.filter(pk__in=line_ids, status=LineStatus.PENDING).select_related("batch"))
    # Row locks on the batches, re-checked: a batch approved meanwhile keeps its lines.
    batches = {
        b.pk: b
        for b in Batch.objects.select_for_update().filter(pk__in={ln.batch_id for ln in lines}, status__in=UNAPPROVED)
    }
    lines = [ln for ln in lines if ln.batch_id in batches]
    if not lines:
        return 0
    AuditEntry.objects.bulk_create(
        AuditEntry(
            at=at,
            user_id=user_id,
            action="line_withdraw",
            object_type="disbursements.paymentline",
            object_id=str(ln.pk),
            changes={
                "batch": ln.batch.number,
                "seq": ln.seq,
                "entitlement": ln.entitlement_id,
                "amount": [str(ln.amount), None],
            },
            comment=reason[:500],
        )
        for ln in lines
    )
    PaymentLine.objects.filter(pk__in=[ln.pk for ln in lines]).delete()
    for batch in batches.values():
        batch_recount(batch)
        batch_close_gaps(batch)
    return len(lines)


def batch_recount(batch: Batch) -> None:
    agg = PaymentLine.objects.filter(batch=batch).aggregate(n=Count("id"), total=Sum("amount"))
    batch.line_count = agg["n"] or 0
    batch.total = agg["total"] or ZERO
    Batch.objects.filter(pk=batch.pk).update(line_count=batch.line_count, total=batch.total)
