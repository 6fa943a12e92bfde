"""The one notification service: every message goes through the outbox (`Notification`).

A service that wants somebody told builds messages with `in_app(...)` / `sms(...)` and
hands them to `notify(...)`. Nothing is written until the caller's transaction commits
(`transaction.on_commit(..., robust=True)`): a message never makes the money
transaction fail, and a rolled-back change tells nobody anything. Each message has a
unique key naming the event, channel and recipient, so a retried job writes nothing
twice. In-app messages are delivered when written (the bell in the page header reads
them); SMS rows are handed to the configured backend by a Celery task that retries
with backoff (the send_sms job, `sms_job_start`), never inside a request.

Texts are Chinese templates filled with parameters that carry no personal data beyond
a masked name (`beneficiaries.pii.mask_name` at the caller); they are stored rendered in
Chinese (what was sent) and shown in the page's language from the catalogue.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.module_loading import import_string

from accounts.choices import JobKind, JobState, NotificationChannel, NotificationEvent, NotificationStatus, Role
from accounts.models import Job, Notification, User
from accounts.notification_texts import render_text
from accounts.services.job_recovery import job_start_unless_waiting
from accounts.services.jobs import JOB_TASKS, job_checkpoint, job_start_after_commit

logger = logging.getLogger(__name__)

E, C = NotificationEvent, NotificationChannel
CHUNK = 1000  # rows per INSERT


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
    return _message(
        C.IN_APP, NotificationStatus.SENT, f"{key}|in_app|u{user_id}", event, params, region_id, obj,
        user_id=user_id, link=link,
    )  # fmt: skip


def sms(
    *, event: str, key: str, phone_cipher: str, phone_masked: str, params: dict, region_id=None, obj=None
) -> Notification | None:
    """One SMS to a worker's phone (as the Person row keeps it: encrypted and masked);
    None when the person left no number."""
    if not phone_cipher:
        return None
    return _message(
        C.SMS, NotificationStatus.PENDING, f"{key}|sms", event, params, region_id, obj,
        phone_cipher=phone_cipher, phone_masked=phone_masked,
    )  # fmt: skip


def _message(channel, status, key, event, params, region_id, obj, **recipient) -> Notification:
    """One outbox row: its body rendered in Chinese (what is sent), the object it is about."""
    about = {} if obj is None else {"object_type": obj._meta.label_lower, "object_id": str(obj.pk)}
    return Notification(
        key=key[:200],
        event=event,
        channel=channel,
        status=status,
        region_id=region_id,
        params=params,
        body=_chinese(event, channel, params),
        **recipient,
        **about,
    )


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
        in_app_users = {r.user_id for r in chunk if r.channel == C.IN_APP}
        if in_app_users:
            _bell_changed(dict(User.objects.filter(pk__in=in_app_users).values_list("pk", "date_joined")))
        if any(r.channel == C.SMS for r in chunk):
            sms_waiting = True
    if sms_waiting:
        # The sending job, once the rows are committed (a worker must find them). Not
        # queued while the database or Redis restarts: the rows wait in the outbox, and
        # beat's `accounts.sms_due` starts the job within SMS_SWEEP_SECONDS.
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


# --------------------------------------------------------------------------- the sending job
#
# Sending the outbox's SMS is a job (kind send_sms) on the common engine: claimed,
# heartbeat, swept and retried like every job, so sending cut by a killed worker or a
# restarted PostgreSQL or Redis comes back by itself and goes on from the rows still
# pending (each message is its own transaction). Written rows start it once they are
# committed; beat's `accounts.sms_due` starts it for retries that fall due and for rows
# whose start was lost. One job drains the outbox: a change finds it queued or running.


def sms_job_start(*, chunk: int | None = None) -> Job:
    """Start sending the outbox's due SMS, unless a job already does (queued, or running
    and alive: it reaches rows written after it started, and beat catches the rest).
    `chunk`: ids read per query (and progress reports); 100 unless a test asks less.

    The task comes from the job registry (accounts.tasks registers it when the app is
    ready): the tasks module calls this one, so this one does not import it back."""
    return job_start_unless_waiting(
        kind=JobKind.SEND_SMS,
        task=JOB_TASKS[JobKind.SEND_SMS],
        params={"chunk": chunk} if chunk else {},
        match={},
        states=(JobState.QUEUED, JobState.RUNNING),
        message="发送短信",
    )


def sms_job_work(job: Job, progress) -> dict:
    """The sending job's work (run by `job_run`): every due SMS, a chunk of ids at a time."""
    backend = sms_backend()
    # Counts checkpointed with each message: a resumed attempt adds to them.
    counts = {k: int((job.result or {}).get(k, 0)) for k in ("sent", "retry", "failed")}
    chunk = int(job.params.get("chunk", 100))
    progress.set_total(sum(counts.values()) + sms_due().count())
    last = 0
    while ids := list(sms_due().filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:chunk]):
        for nid in ids:
            with transaction.atomic():
                outcome = sms_send_one(nid, backend)
                if outcome:
                    counts[outcome] += 1
                    job_checkpoint(job.pk, **counts)
        last = ids[-1]
        progress.advance(sum(counts.values()), force=True)
    return {
        **counts,
        "message": f"短信已发送 {counts['sent']} 条，待重试 {counts['retry']} 条，发送失败 {counts['failed']} 条",
    }


# --------------------------------------------------------------------------- reading


# The bell's count is on every signed-in page: it is cached per user, as (version, count), and
# this module is the only writer of what it counts. Each write of a user's in-app messages or
# read marks sets a new version for the user, once at once and once more after its commit:
# a count read from the database before the commit is stored under the older version and never
# shown after it. The keys name the user by id *and* sign-up time, so a user of another database
# (a test run's, a restored backup's) with the same id never meets them. The TTL bounds how long
# a count could stay wrong if the cache was down when a version should have changed.
BELL_TTL = 15 * 60


def _bell_keys(user_id: int, joined) -> tuple[str, str]:
    who = f"{user_id}:{round(joined.timestamp() * 1_000_000)}"
    return f"bell:v:{who}", f"bell:n:{who}"


def unread_count(user) -> int:
    if user is None or not user.is_authenticated:
        return 0
    version_key, count_key = _bell_keys(user.pk, user.date_joined)
    found = cache.get_many([version_key, count_key])
    version, cached = found.get(version_key), found.get(count_key)
    if version is not None and cached is not None and cached[0] == version:
        return cached[1]
    if version is None:
        # The version is fixed before the count is read (see above); a writer's newer one wins.
        version = uuid.uuid4().hex
        if not cache.add(version_key, version, BELL_TTL):
            version = cache.get(version_key)
    count = Notification.objects.inbox(user).filter(read_at__isnull=True).count()
    if version is not None:
        cache.set(count_key, (version, count), BELL_TTL)
    return count


def _bell_changed(users: dict[int, object]) -> None:
    """A new bell version for these users ({id: date_joined}), now and after the commit."""

    def bump():
        cache.set_many({_bell_keys(pk, joined)[0]: uuid.uuid4().hex for pk, joined in users.items()}, BELL_TTL)

    if users:
        bump()
        transaction.on_commit(bump, robust=True)


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    """Mark the user's own in-app messages read (all unread ones when `ids` is None)."""
    qs = Notification.objects.inbox(user).filter(read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    marked = qs.update(read_at=timezone.now())
    if marked:
        _bell_changed({user.pk: user.date_joined})
    return marked


def outbox_for_user(user, *, box: str = "inbox"):
    """`inbox`: the user's own messages; `sms`: the SMS sent to workers in the user's scope."""
    qs = Notification.objects.for_user(user)
    if box == "sms":
        return qs.filter(channel=C.SMS).select_related("region")
    return qs.filter(Q(channel=C.IN_APP, user=user))
