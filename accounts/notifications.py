"""The one notification service: every message goes through the outbox (`Notification`).

A service that wants somebody told builds messages with `in_app(...)` / `sms(...)` and
hands them to `notify(...)`. Nothing is written until the caller's transaction commits
(`transaction.on_commit(..., robust=True)`): a message never makes the money
transaction fail, and a rolled-back change tells nobody anything. Each message has a
unique key naming the event, channel and recipient, so a retried job writes nothing
twice. In-app messages are delivered when written (the bell in the page header reads
them); SMS rows are handed to the configured backend by a Celery task that retries
with backoff (`accounts.tasks.notifications_send_sms`), never inside a request.

Texts are Chinese templates filled with parameters that carry no personal data beyond
a masked name (`beneficiaries.pii.mask_name` at the caller); they are stored rendered in
Chinese (what was sent) and shown in the page's language from the catalogue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.choices import NotificationChannel, NotificationEvent, NotificationStatus, Role
from accounts.models import Notification, User
from accounts.services import job_start_after_commit

logger = logging.getLogger(__name__)

E, C = NotificationEvent, NotificationChannel
CHUNK = 1000  # rows per INSERT

# (event, channel, variant) → template. Chinese first; English in locale/en.
TEMPLATES = {
    (E.PAYMENT_PAID, C.SMS, ""): _(
        "【稳岗留工】%(name)s您好，您的%(scheme)s %(amount)s 元已发放至您登记的账户，请注意查收。"
    ),
    (E.PAYMENT_FAILED, C.SMS, ""): _(
        "【稳岗留工】%(name)s您好，您的%(scheme)s %(amount)s 元发放未成功（%(reason)s），请联系用人单位核对银行账户。"
    ),
    (E.PAYMENT_PAID, C.IN_APP, ""): _("批次 %(batch)s：本单位 %(count)s 人的补贴已发放，合计 %(amount)s 元。"),
    (E.PAYMENT_FAILED, C.IN_APP, ""): _(
        "%(name)s 的%(scheme)s %(amount)s 元发放失败（%(reason)s）：请核对并更正其银行账户，更正后将在补发批次中发放。"
    ),
    (E.BATCH_RESULTS, C.IN_APP, ""): _(
        "批次 %(batch)s 银行结果已导入：成功 %(paid)s 笔，失败 %(failed)s 笔，待定 %(pending)s 笔。"
    ),
    (E.EMPLOYER_RETURNED, C.IN_APP, ""): _("单位“%(employer)s”被区县人社部门退回修改：%(reason)s"),
    (E.SURVEY_OVERDUE, C.IN_APP, ""): _(
        "%(district)s 截至 %(period_end)s 的摸排报表已逾期 %(days)s 天（截止 %(deadline)s），请尽快填报。"
    ),
    (E.BATCH_WAITING, C.IN_APP, "submitted"): _(
        "发放批次 %(batch)s（%(district)s，%(count)s 笔，%(amount)s 元）已由区县提交，等待您复核。"
    ),
    (E.BATCH_WAITING, C.IN_APP, "reviewed"): _(
        "发放批次 %(batch)s（%(district)s，%(count)s 笔，%(amount)s 元）已由市级复核，等待您审批。"
    ),
    (E.BATCH_RETURNED, C.IN_APP, ""): _("发放批次 %(batch)s（%(district)s）被退回：%(reason)s"),
    (E.APPEAL_FILED, C.IN_APP, ""): _("%(district)s 收到关于 %(name)s 的申诉（%(kind)s），请在 %(due)s 前处理。"),
    (E.OBJECTION_FILED, C.IN_APP, ""): _("公示“%(notice)s”收到一条异议，请核查处理。"),
}


def _template(event: str, channel: str, params: dict):
    return TEMPLATES.get((event, channel, params.get("variant", ""))) or TEMPLATES.get((event, channel, ""))


def render_text(event: str, channel: str, params: dict, *, fallback: str = "") -> str:
    """The message in the active language; the stored Chinese text if the template is gone."""
    template = _template(event, channel, params)
    if template is None:
        return fallback
    values = dict(params)
    for name in ("scheme", "kind", "reason"):  # labels kept as msgids are translated too
        if isinstance(values.get(name), str) and values[name]:
            values[name] = gettext(values[name])
    try:
        return str(template) % values
    except (KeyError, TypeError, ValueError):
        return fallback


def chinese(label) -> str:
    """A lazy label as its Chinese msgid, whatever the language of the request or worker
    that triggers the message (an employer agent may be using the English pages): the
    parameters are stored in Chinese and translated when shown."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(label)


def _chinese(event: str, channel: str, params: dict) -> str:
    with translation.override(settings.LANGUAGE_CODE):
        return render_text(event, channel, params)


# --------------------------------------------------------------------------- building messages


def in_app(
    *, event: str, key: str, user: User | int, params: dict, link: str = "", region_id=None, obj=None
) -> Notification:
    """One in-app message to `user`; `key` names the event (the recipient is added to it)."""
    user_id = user if isinstance(user, int) else user.pk
    return Notification(
        key=f"{key}|in_app|u{user_id}"[:200],
        event=event,
        channel=C.IN_APP,
        status=NotificationStatus.SENT,
        user_id=user_id,
        region_id=region_id,
        params=params,
        body=_chinese(event, C.IN_APP, params),
        link=link,
        **_object(obj),
    )


def sms(
    *, event: str, key: str, phone_cipher: str, phone_masked: str, params: dict, region_id=None, obj=None
) -> Notification | None:
    """One SMS to a worker's phone (as the Person row keeps it: encrypted and masked);
    None when the person left no number."""
    if not phone_cipher:
        return None
    return Notification(
        key=f"{key}|sms"[:200],
        event=event,
        channel=C.SMS,
        status=NotificationStatus.PENDING,
        phone_cipher=phone_cipher,
        phone_masked=phone_masked,
        region_id=region_id,
        params=params,
        body=_chinese(event, C.SMS, params),
        **_object(obj),
    )


def _object(obj) -> dict:
    if obj is None:
        return {}
    return {"object_type": obj._meta.label_lower, "object_id": str(obj.pk)}


def staff_covering(region, roles: Iterable[str]) -> list[User]:
    """Active staff of `roles` whose region is `region` or one of its ancestors: the people
    in whose scope the event lies (nobody is told about what they may not see)."""
    codes = [c for c in region.path.split("/") if c]
    return list(User.objects.filter(is_active=True, role__in=list(roles), region_id__in=codes))


def district_officers(region) -> list[User]:
    return list(User.objects.filter(is_active=True, role=Role.DISTRICT, region_id=region.pk))


# --------------------------------------------------------------------------- sending


def after_commit(fn, /, **kwargs) -> None:
    """Run `fn(**kwargs)` (which picks recipients and calls `notify`) once the caller's
    transaction commits: choosing recipients reads the database, and must not do so inside
    a money transaction that it could fail; a failure is logged, never raised."""
    transaction.on_commit(lambda: fn(**kwargs), robust=True)


def notify(messages: Iterable[Notification | None]) -> None:
    """Write `messages` to the outbox after the current transaction commits (at once when
    there is none), then queue the SMS among them. A failure here is logged, never raised
    into the caller: being told is secondary to the change itself."""
    rows = [m for m in messages if m is not None]
    if not rows:
        return
    # on_commit: the rows name objects the caller's transaction is still writing, and a
    # rollback must tell nobody; robust: an outbox failure does not fail the commit's caller.
    transaction.on_commit(lambda: _write_safely(rows), robust=True)


def _write_safely(rows: list[Notification]) -> None:
    # A savepoint of its own: a failed INSERT neither breaks a surrounding transaction
    # nor reaches the caller (whose change has committed already).
    try:
        with transaction.atomic():
            _write(rows)
    except Exception:
        logger.exception("notifications not written: %s", ", ".join(sorted({r.event for r in rows})))


def _write(rows: list[Notification]) -> int:
    written = 0
    sms_waiting = False
    now = timezone.now()
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        for row in chunk:
            row.created_at = now
            if row.channel == C.IN_APP:
                row.sent_at = now
        # The unique key makes a second write of the same event a no-op (a retried job,
        # a bank file imported twice).
        Notification.objects.bulk_create(chunk, ignore_conflicts=True)
        written += len(chunk)
        if any(r.channel == C.SMS for r in chunk):
            sms_waiting = True
    if sms_waiting:
        # The sending job, once the rows are committed (a worker must find them). Not
        # queued while the database or Redis restarts: the rows wait in the outbox, and
        # beat's `accounts.sms_due` starts the job within SMS_SWEEP_SECONDS.
        from accounts.tasks import sms_job_start

        job_start_after_commit(sms_job_start, what="SMS", robust=True)
    return written


def sms_backend():
    return import_string(settings.SMS_BACKEND)()


def sms_due():
    """The SMS to send now: pending, and never tried or due for their retry."""
    return Notification.objects.filter(channel=C.SMS, status=NotificationStatus.PENDING).filter(
        Q(retry_at__isnull=True) | Q(retry_at__lte=timezone.now())
    )


def sms_send_one(nid: int, backend) -> str | None:
    """Hand one pending SMS to the backend, in the caller's transaction: "sent", "retry"
    (failed; due again after SMS_RETRY_SECONDS × 2ⁿ⁻¹), "failed" (the last attempt
    failed: it stays failed with the provider's reason), or None (not pending, or held).

    The row is locked, skipping a row another worker holds: two jobs never send one
    message at the same time; a worker that dies mid-send rolls back and leaves the row
    pending, and it is sent again (the provider may have had it: at least once)."""
    message = (
        Notification.objects.select_for_update(skip_locked=True)
        .filter(pk=nid, channel=C.SMS, status=NotificationStatus.PENDING)
        .first()
    )
    if message is None:
        return None
    message.attempts += 1
    try:
        backend.send(message)
    except Exception as exc:  # the provider's error, whatever its class: recorded, retried
        message.last_error = str(exc)[:300]
        if message.attempts >= settings.SMS_MAX_ATTEMPTS:
            message.status, outcome = NotificationStatus.FAILED, "failed"
        else:
            backoff = settings.SMS_RETRY_SECONDS * 2 ** min(message.attempts - 1, 8)
            message.retry_at, outcome = timezone.now() + timezone.timedelta(seconds=backoff), "retry"
        logger.warning("SMS #%s not sent (attempt %s): %s", nid, message.attempts, exc)
    else:
        message.status, message.sent_at, message.last_error = NotificationStatus.SENT, timezone.now(), ""
        message.retry_at, outcome = None, "sent"
    message.save(update_fields=["attempts", "status", "sent_at", "last_error", "retry_at"])
    return outcome


def sms_send(*, notification_ids: list[int]) -> list[int]:
    """Send these pending SMS now, each in its own transaction. Returns the ids that
    failed and wait for a retry."""
    backend = sms_backend()
    retry = []
    for nid in notification_ids:
        with transaction.atomic():
            if sms_send_one(nid, backend) == "retry":
                retry.append(nid)
    return retry


# --------------------------------------------------------------------------- reading


def unread_count(user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.inbox(user).filter(read_at__isnull=True).count()


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the user's own in-app messages read (all unread ones when `ids` is None)."""
    qs = Notification.objects.inbox(user).filter(read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


def outbox_for_user(user, *, box: str = "inbox"):
    """`inbox`: the user's own messages; `sms`: the SMS sent to workers in the user's scope."""
    qs = Notification.objects.for_user(user)
    if box == "sms":
        return qs.filter(channel=C.SMS).select_related("region")
    return qs.filter(Q(channel=C.IN_APP, user=user))
