"""Who is told what about payments, batches, appeals and objections.

Each function builds outbox messages and hands them to `accounts.services.notifications.notify`,
which writes them after the caller's transaction commits. Recipients are chosen from the
object's own district and employer, so nobody is told about anything outside their scope:
district officers of the district, city staff of its city (the province for a district
that reports straight to it), province staff, and the agents of the employer. Texts carry
a masked name at most (`beneficiaries.pii.mask_name`); SMS go to the number on the Person
row, encrypted as it is kept there.
"""

from __future__ import annotations

from celery import current_app
from django.db import transaction
from django.urls import reverse

from accounts.choices import NotificationEvent, Role
from accounts.services.notifications import CHUNK, chinese, district_officers, in_app, notify, sms, staff_covering
from beneficiaries.models import Employer
from beneficiaries.pii import mask_name
from core.money import ZERO, yuan_text
from disbursements.choices import AppealKind, BatchStatus, LineStatus
from disbursements.models import Batch, PaymentLine

E = NotificationEvent
# The Celery task (disbursements.tasks) that tells what a bank results file did.
NOTIFY_BATCH_RESULTS_TASK = "disbursements.notify_batch_results"


def _agents_by_employer(employer_ids) -> dict[int, list[int]]:
    """Active agent user ids of each employer."""
    out: dict[int, list[int]] = {}
    rows = Employer.agents.through.objects.filter(employer_id__in=employer_ids, user__is_active=True)
    for employer_id, user_id in rows.values_list("employer_id", "user_id"):
        out.setdefault(employer_id, []).append(user_id)
    return out


# --------------------------------------------------------------------------- bank results


def batch_results_notify_after_commit(batch_id: int) -> None:
    """Called inside the results import's transaction: queue the messages once it commits
    (a Celery task: a million lines are not told inside the import's request or job).
    The task is found by its registered name, so that this service does not import the
    task module (which calls the services)."""

    def queue():
        current_app.tasks[NOTIFY_BATCH_RESULTS_TASK].delay(batch_id)

    # on_commit: the task must see the lines' new statuses; robust: a broker hiccup here
    # does not turn a committed import into an error for the officer.
    transaction.on_commit(queue, robust=True)


def batch_results_notify(*, batch_id: int) -> int:
    """Tell everyone concerned what a bank results file did to a batch:

    * each worker paid or failed, by SMS (masked name, scheme, amount; the failure
      reason and "ask your employer to correct the account");
    * each employer's agents: every failed line of their staff (what to do), and one
      summary of the paid ones;
    * the district officers: the batch's totals.

    Keys name the line and its status (and the counts for the summaries), so importing
    the same file again, or retrying this task, tells nobody twice. Returns the number of
    messages handed to the outbox (before duplicates are skipped).
    """
    batch = Batch.objects.select_related("district", "programme").get(pk=batch_id)
    payments = reverse("disbursements:employer_payments")
    # Every employer's agents in one query (a subquery on the batch), not one per employer.
    agents = _agents_by_employer(
        PaymentLine.objects.filter(batch=batch).values("entitlement__registration__employer_id")
    )
    paid_by_employer: dict[int, list] = {}  # employer → [count, amount]
    sent, chunk = _tell_lines(batch, agents, payments, paid_by_employer)
    chunk += _tell_employers_paid(batch, agents, payments, paid_by_employer)
    chunk += _tell_officers(batch)
    sent += len([m for m in chunk if m is not None])
    notify(chunk)
    return sent


def _tell_lines(batch: Batch, agents: dict, payments: str, paid_by_employer: dict) -> tuple[int, list]:
    """Each paid or failed line: the worker by SMS, the employer's agents of a failed one
    in the portal; the paid ones are added up per employer. Handed to the outbox chunk by
    chunk; returns how many were handed, and the last chunk (not yet handed)."""
    district = batch.district
    lines = (
        PaymentLine.objects.filter(batch=batch, status__in=[LineStatus.PAID, LineStatus.FAILED])
        .order_by("id")
        .values_list(
            "id",
            "status",
            "amount",
            "name",
            "failure_reason",
            "entitlement__rule__name",
            "entitlement__registration__employer_id",
            "entitlement__person__phone_cipher",
            "entitlement__person__phone_masked",
        )
    )
    sent = 0
    chunk: list = []
    for line_id, status, amount, name, reason, scheme, employer_id, phone_cipher, phone_masked in lines.iterator(
        chunk_size=CHUNK
    ):
        params = {"name": mask_name(name), "scheme": scheme, "amount": yuan_text(amount), "batch": batch.number}
        event = E.PAYMENT_PAID if status == LineStatus.PAID else E.PAYMENT_FAILED
        if status == LineStatus.FAILED:
            params["reason"] = reason or "未说明原因"
            chunk += [
                in_app(
                    event=event,
                    key=f"line:{line_id}:failed",
                    user=uid,
                    params=params,
                    link=payments,
                    region_id=district.pk,
                )
                for uid in agents.get(employer_id, [])
            ]
        else:
            total = paid_by_employer.setdefault(employer_id, [0, ZERO])
            total[0] += 1
            total[1] += amount
        chunk.append(
            sms(
                event=event,
                key=f"line:{line_id}:{status}",
                phone_cipher=phone_cipher,
                phone_masked=phone_masked,
                params=params,
                region_id=district.pk,
            )
        )
        if len(chunk) >= CHUNK:
            sent += len(chunk)
            notify(chunk)
            chunk = []
    return sent, chunk


def _tell_employers_paid(batch: Batch, agents: dict, payments: str, paid_by_employer: dict) -> list:
    """One summary of the paid lines to each employer's agents."""
    out = []
    for employer_id, (count, amount) in paid_by_employer.items():
        params = {"batch": batch.number, "count": count, "amount": yuan_text(amount)}
        out += [
            in_app(
                event=E.PAYMENT_PAID,
                key=f"batch:{batch.pk}:employer:{employer_id}:paid:{count}",
                user=uid,
                params=params,
                link=payments,
                region_id=batch.district.pk,
            )
            for uid in agents.get(employer_id, [])
        ]
    return out


def _tell_officers(batch: Batch) -> list:
    """The district officers: the batch's totals (keyed by the counts, so a second import
    that changed nothing tells nobody)."""
    counts = {
        s: PaymentLine.objects.filter(batch=batch, status=s).count()
        for s in (LineStatus.PAID, LineStatus.FAILED, LineStatus.PENDING)
    }
    params = {
        "batch": batch.number,
        "paid": counts[LineStatus.PAID],
        "failed": counts[LineStatus.FAILED],
        "pending": counts[LineStatus.PENDING],
    }
    summary_key = f"batch:{batch.pk}:results:{params['paid']}:{params['failed']}:{params['pending']}"
    link = reverse("disbursements:batch_detail", args=[batch.pk])
    return [
        in_app(
            event=E.BATCH_RESULTS,
            key=summary_key,
            user=u,
            params=params,
            link=link,
            region_id=batch.district.pk,
            obj=batch,
        )
        for u in district_officers(batch.district)
    ]


# --------------------------------------------------------------------------- the approval chain


def _reviewers(batch: Batch) -> list:
    """Who reviews a submitted batch: the city's staff, or the province's for a district
    that reports straight to the province (as batches.can_review decides)."""
    district = batch.district
    if district.city == district:
        return staff_covering(district, [Role.PROVINCE])
    return staff_covering(district, [Role.CITY])


def batch_step_notify(*, batch: Batch, action: str, step_id: int, target: str, comment: str = "") -> None:
    """After a step of the chain (`step_id`, which moved the batch to `target`), tell whoever
    must act next: the reviewers of a submitted batch, the province for a reviewed one, and
    the level a batch was returned to. One message per step and recipient."""
    if action not in ("submit", "review", "return"):
        return  # an approved batch waits for nobody's review: the officer exports it
    batch = Batch.objects.select_related("district").get(pk=batch.pk)
    params = {
        "batch": batch.number,
        "district": batch.district.name,
        "count": batch.line_count,
        "amount": yuan_text(batch.total),
    }
    if action == "submit":
        users, event, params["variant"] = _reviewers(batch), E.BATCH_WAITING, "submitted"
    elif action == "review":
        users, event, params["variant"] = staff_covering(batch.district, [Role.PROVINCE]), E.BATCH_WAITING, "reviewed"
    else:  # return
        params["reason"] = comment
        event = E.BATCH_RETURNED
        users = district_officers(batch.district) if target == BatchStatus.DRAFT else _reviewers(batch)
    link = reverse("disbursements:batch_detail", args=[batch.pk])
    notify(
        in_app(
            event=event,
            key=f"batch:{batch.pk}:step:{step_id}",
            user=u,
            params=params,
            link=link,
            region_id=batch.district_id,
            obj=batch,
        )
        for u in users
    )


# --------------------------------------------------------------------------- appeals and objections


def appeal_notify(*, appeal) -> None:
    """A new appeal: the district officers who must answer it by its due date."""
    name = appeal.person.name if appeal.person_id else ""
    params = {
        "district": appeal.district.name,
        "name": mask_name(name),
        "kind": chinese(AppealKind(appeal.kind).label),
        "due": appeal.due_on.isoformat(),
    }
    _tell_district_officers(
        appeal.district,
        E.APPEAL_FILED,
        f"appeal:{appeal.pk}",
        params,
        reverse("appeals:detail", args=[appeal.pk]),
        appeal,
    )


def objection_notify(*, objection) -> None:
    """A new objection to a 公示 notice: the district officers of the notice's district."""
    notice = objection.notice
    params = {"district": notice.district.name, "notice": notice.title}
    link = reverse("gongshi:manage_detail", args=[notice.pk])
    _tell_district_officers(notice.district, E.OBJECTION_FILED, f"objection:{objection.pk}", params, link, objection)


def _tell_district_officers(district, event, key: str, params: dict, link: str, obj) -> None:
    """One message in the portal to each officer of the district, about `obj`."""
    notify(
        in_app(event=event, key=key, user=u, params=params, link=link, region_id=district.pk, obj=obj)
        for u in district_officers(district)
    )
