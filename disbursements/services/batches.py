"""Disbursement batches (发放批次): building them, and the maker-checker approval chain.

A district officer builds batches from a programme's granted, not yet batched
entitlements: one batch per district × payment channel, its lines inserted by one
set-based INSERT … SELECT that snapshots name, encrypted ID number, encrypted account
and amount. Then: submitted (district) → reviewed (city) → approved (province), each
step by a different user, none of whom did another step of the same batch. Returning a
batch with a reason sends it one step back. Approval freezes it with a hash over its
lines. A failed line, once corrected, is re-issued in a supplementary batch (补发)
whose `parent` is the original.
"""

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext

from accounts.choices import Role
from accounts.models import User
from accounts.services.audit import audit_record, audit_records
from accounts.services.jobs import job_step
from accounts.services.notifications import after_commit
from beneficiaries import pii
from beneficiaries.services.persons import person_correct
from core.db import bulk_settings, fk_triggers_restore, fk_triggers_skip
from core.errors import ConflictError, DomainError, PermissionDenied
from core.money import ZERO, to_yuan, yuan_text
from disbursements import sql
from disbursements.choices import RED_PACKET_PAYEE, BatchStatus, EntitlementKind, EntitlementStatus, LineStatus
from disbursements.models import Batch, BatchStep, Entitlement, PaymentLine
from disbursements.services.batch_lines import PAID_CHANNELS, batch_close_gaps, batch_recount
from disbursements.services.file_stream import content_hasher
from disbursements.services.fraud import held_registration_ids
from disbursements.services.notify import batch_step_notify
from disbursements.services.publicity import batch_submission_block
from disbursements.services.rollups import rollups_refresh_soon
from programs.choices import Channel
from programs.models import Programme
from regions.models import Region

CHANNEL_CODES = {
    Channel.BANK_CARD: "YHK",
    Channel.SOCIAL_SECURITY_CARD: "SBK",
    Channel.E_VOUCHER: "XFQ",
    Channel.RED_PACKET: "HB",
    Channel.CASH: "XJ",
}


def line_payee(channel: str, person, registration) -> tuple[str, str, str]:
    """(account cipher, masked account, bank) a line of `channel` is paid to: the phone for
    a red packet, the registration's bank account otherwise."""
    if channel == Channel.RED_PACKET:
        return person.phone_cipher, person.phone_masked, RED_PACKET_PAYEE
    return registration.account_cipher, registration.account_masked, registration.bank_name


# The level at which each action is done; maker-checker compares levels.
LEVEL_DISTRICT, LEVEL_CITY, LEVEL_PROVINCE = "district", "city", "province"
LEVEL_LABELS = {LEVEL_DISTRICT: "区县经办", LEVEL_CITY: "市级复核", LEVEL_PROVINCE: "省级审批"}
ACTION_LABELS = {
    "build": "生成批次",
    "submit": "提交",
    "review": "复核通过",
    "approve": "审批通过",
    "return": "退回",
    "export": "导出银行文件",
    "results": "导入银行结果",
    "reconcile": "对账完成",
}


# --------------------------------------------------------------------------- building


def batches_build(
    *,
    programme: Programme,
    district: Region | None = None,
    acting_user: User | None,
    system: bool = False,
    progress: Callable[[int, int], None] | None = None,
    job=None,
) -> list[Batch]:
    """Build the batches of `programme` (one district, or every district the user may
    build for) from granted entitlements that have no payment line yet.

    One pass in one transaction, under a lock on each (programme, district) taken in
    sorted order: one GROUP BY counts the batches (district × channel), one INSERT …
    SELECT writes every line. A worker killed half way leaves nothing built, and running
    again (or a second request at the same time, which waits for the locks) builds only
    what is left, so the end result is the same batches, lines and totals (a job_step
    inside the transaction: the fault tests slow it down to land a fault there). `job`,
    a build Job, is recorded on each batch, so the job's result counts the batches of
    all its attempts. The dashboards' refresh is a job of its own, queued after commit.

    An officer builds as `acting_user` (checked); the portal itself (a management
    command, a job nobody asked for) says so with `system=True` and no user. A call with
    neither is refused, never silently let through.
    """
    check_builder(acting_user, district, system=system)
    path = district.path if district is not None else (_scope_path(acting_user) or "")
    # Two steps, counting and writing, reported around the transaction (a report inside
    # it would be invisible until it commits).
    if progress:
        progress(0, 2)
    try:
        with transaction.atomic(), connection.cursor() as cur:
            bulk_settings(cur)
            groups = _stage_and_count(cur, programme, path)
            # The boundary a fault may land on: the transaction is rolled back whole.
            job_step()
            built = _create_batches(programme, groups, acting_user, job)
    finally:
        with connection.cursor() as cur:
            cur.execute(sql.BATCH_CANDIDATES_DROP)
    if progress:
        progress(2, 2)
    if built:
        # The dashboards' "batched" figures, of the districts built only.
        rollups_refresh_soon(programme.pk, districts=sorted({b.district_id for b in built}))
    return built


def check_builder(user: User | None, district: Region | None, *, system: bool = False) -> None:
    """May `user` build batches (of `district`)? Raises PermissionDenied; no user: only the system."""
    if user is None:
        if not system:
            raise PermissionDenied("生成发放批次须由办理人操作（系统任务须明确标明）。")
        return
    if user.role != Role.DISTRICT and not user.sees_everything:
        raise PermissionDenied("只有区县人社专员可以生成发放批次。")
    if district is not None and user.role == Role.DISTRICT and not user.region.contains(district):
        raise PermissionDenied(f"您无权为{district.name}生成发放批次。")


LIVE_LINE = (LineStatus.PENDING, LineStatus.PAID)
# The first key of a build's advisory locks is this plus the programme's id; the second,
# the district's code.
BUILD_LOCK_NAMESPACE = 7301


def unbatched_entitlements(programme: Programme):
    """Granted, programme-paid entitlements that are in no batch of their channel. (A
    failed line is re-issued only through 补发, linked to the original, never by a new
    build. The one exception: a worker whose red packet failed and who then chose cash
    instead — the entitlement's channel changed — is taken by the cash build; the paid-once
    index still allows one pending or paid line.)"""
    return (
        Entitlement.objects.filter(programme=programme, status=EntitlementStatus.GRANTED, channel__in=PAID_CHANNELS)
        # A recovery (negative adjustment) is never paid out.
        .exclude(kind=EntitlementKind.ADJUSTMENT)
        .exclude(Exists(PaymentLine.objects.filter(entitlement=OuterRef("pk"), batch__channel=OuterRef("channel"))))
        # Paid, or pending in another channel's batch: paid at most once (the partial
        # unique index says so too; excluded here, the lines' INSERT needs no ON CONFLICT).
        .exclude(Exists(PaymentLine.objects.filter(entitlement=OuterRef("pk"), status__in=LIVE_LINE)))
        # High fraud signals hold their lines out.
        .exclude(registration_id__in=held_registration_ids())
    )


def _scope_path(user: User | None) -> str | None:
    return user.region.path if user is not None and not user.sees_everything else None


def _stage_and_count(cur, programme: Programme, path: str) -> list[tuple[str, str, int, Decimal]]:
    """Lock the (programme, district)s in sorted order (two builds of overlapping regions
    never deadlock), stage the entitlements to batch once, locked (one anti-join over the
    programme, a hash join, rather than one per district against millions of lines), and
    count the batches to make: [(district, channel, lines, total)]."""
    cur.execute(sql.BATCH_BUILD_DISTRICTS, {"programme_id": programme.pk, "path": path + "%"})
    districts = [row[0] for row in cur.fetchall()]
    for district_id in districts:
        _lock(programme.pk, district_id)
    qs = unbatched_entitlements(programme)
    if path:
        qs = qs.filter(district__path__startswith=path)
    columns = ("id", "district_id", "channel", "amount", "person_id", "registration_id")
    candidates, params = qs.order_by().values(*columns).query.sql_with_params()
    pg = connection.vendor == "postgresql"
    staging = sql.BATCH_CANDIDATES_STAGE.replace("{candidates}", candidates)
    cur.execute(sql.BATCH_CANDIDATES_DROP)
    cur.execute(staging.replace("{lock}", sql.BATCH_CANDIDATES_LOCK if pg else ""), params)
    if pg:
        cur.execute(sql.BATCH_CANDIDATES_UNLOCKED, {"districts": districts})
        cur.execute(sql.BATCH_CANDIDATES_ANALYZE)
    cur.execute(sql.BATCH_GROUPS)
    return [(d, channel, n, to_yuan(Decimal(int(fen)) / 100)) for d, channel, n, fen in cur.fetchall()]


def _create_batches(programme: Programme, groups: list, user: User | None, job) -> list[Batch]:
    """The batches counted, their lines by one INSERT … SELECT with the foreign keys'
    per-row triggers off (the lines point at these batches and at entitlements locked by
    the count: core.db), a build step and an audit row each."""
    now = timezone.now()
    numbers = _numbers(programme, [(d, channel) for d, channel, _n, _t in groups])
    batches = [
        Batch(
            programme=programme,
            district_id=d,
            channel=channel,
            number=numbers[d, channel],
            line_count=n,
            total=total,
            created_by=user,
            created_at=now,
            build_job=job,
        )
        for d, channel, n, total in groups
    ]
    Batch.objects.bulk_create(batches)
    if batches:
        _insert_lines(batches, now)
    built = [batch for batch in batches if batch.line_count]
    if user is not None:
        BatchStep.objects.bulk_create(
            BatchStep(batch=b, action="build", level=LEVEL_DISTRICT, user=user, at=now, to_status=BatchStatus.DRAFT)
            for b in built
        )
    audit_records(
        user=user,
        action="batch_build",
        entries=[
            (batch, {"status": [None, BatchStatus.DRAFT], "lines": batch.line_count, "total": str(batch.total)})
            for batch in built
        ],
    )
    return built


def _insert_lines(batches: list[Batch], now) -> None:
    """Every batch's lines. Should fewer lines be written than counted (cannot happen:
    the count and the lines read the same locked rows), the batches are recounted and
    renumbered, and an empty one deleted."""
    ids = {f"b{i}": batch.pk for i, batch in enumerate(batches)}
    statement = sql.BATCH_LINES_INSERT.replace("{batches}", ", ".join(f"%({key})s" for key in ids))
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        saved = fk_triggers_skip(cur, tables=[PaymentLine._meta.db_table])
        if pg:
            # The join to the batches on (district, channel) is estimated at a few rows
            # (the two columns are correlated), and the planner then probes the snapshot's
            # tables by index once per line: hash joins are 5× faster. This statement only.
            cur.execute(sql.NESTLOOP_OFF)
            cur.execute(sql.BATCH_LINES_SORT_MEM)
        cur.execute(statement, {"now": now, **ids})
        inserted = cur.rowcount
        if pg:
            cur.execute(sql.NESTLOOP_ON)
            cur.execute(sql.BATCH_LINES_SORT_MEM_RESET)
        fk_triggers_restore(cur, saved)
    if inserted == sum(batch.line_count for batch in batches):
        return
    for batch in batches:
        batch_recount(batch)
        batch_close_gaps(batch)
        if batch.line_count == 0:
            batch.delete()


def _lock(programme_id: int, district_id: str) -> None:
    """Serialize builders of one (programme, district): the second of two concurrent
    requests waits here, then finds nothing left to build."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute(
                sql.BATCH_BUILD_LOCK, {"namespace": BUILD_LOCK_NAMESPACE + programme_id, "district": int(district_id)}
            )
    else:  # SQLite serializes writers anyway; others lock the programme row
        Programme.objects.select_for_update().filter(pk=programme_id).first()


def _number_prefix(programme: Programme, district_id: str, channel: str) -> str:
    return f"{programme.code}-{district_id}-{CHANNEL_CODES.get(channel, channel.upper())}-"


def _next_number(programme: Programme, district_id: str, channel: str, *, supplement: bool = False) -> str:
    prefix = _number_prefix(programme, district_id, channel) + ("BF" if supplement else "")
    taken = Batch.objects.filter(number__startswith=prefix).count()
    return f"{prefix}{taken + 1:03d}"


def _numbers(programme: Programme, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """The next number of each (district, channel), as `_next_number` gives it, from one
    read of the numbers taken (a supplement's share its prefix and count too)."""
    numbers = Batch.objects.filter(number__startswith=f"{programme.code}-").values_list("number", flat=True)
    # "<prefix>007" and a supplement's "<prefix>BF002" both count for <prefix>.
    taken = Counter(number.rsplit("-", 1)[0] + "-" for number in numbers)
    out = {}
    for district_id, channel in keys:
        prefix = _number_prefix(programme, district_id, channel)
        out[district_id, channel] = f"{prefix}{taken[prefix] + 1:03d}"
    return out


# --------------------------------------------------------------------------- the chain


def _levels_of(user: User, batch: Batch) -> set[str]:
    return set(BatchStep.objects.filter(batch=batch, user=user).values_list("level", flat=True))


def _maker_checker(user: User, batch: Batch, level: str) -> None:
    """Nobody does two levels of one batch: the user of each step differs from the users
    of the earlier steps at other levels (a returned batch may be re-done by the same
    level's user, e.g. the officer resubmits what the city returned)."""
    other = _levels_of(user, batch) - {level}
    if other:
        done = "、".join(LEVEL_LABELS[x] for x in sorted(other))
        raise PermissionDenied(f"您已办理过本批次的“{done}”环节，按照经办与审核分离的要求，本环节须由其他人员办理。")


def _covers(user: User, batch: Batch) -> bool:
    return user.region_id is not None and batch.district.path.startswith(user.region.path)


def can_submit(user: User, batch: Batch) -> bool:
    return user.role == Role.DISTRICT and _covers(user, batch)


def can_review(user: User, batch: Batch) -> bool:
    """City staff whose city contains the district; for a district that reports straight
    to the province (定州, 辛集, 雄安), province staff review in the city's place."""
    if user.role == Role.CITY:
        return _covers(user, batch)
    return user.role == Role.PROVINCE and batch.district.city == batch.district


def can_approve(user: User, batch: Batch) -> bool:
    return user.role == Role.PROVINCE


def _transition(
    *, batch: Batch, user: User, action: str, level: str, expected: str, target: str, comment: str, stamp: str | None
) -> Batch:
    with transaction.atomic():
        # Conditional update: of two clicks (or two users) on the same step, one wins;
        # the other finds the status already changed.
        fields = {"status": target}
        now = timezone.now()
        if stamp:
            fields[f"{stamp}_by"] = user
            fields[f"{stamp}_at"] = now
        if target == BatchStatus.APPROVED:
            # Lock the batch before hashing its lines: a computation taking a line out of
            # a batch not yet approved (lines_pull_unapproved) holds this lock too, so the
            # hash never covers lines that are being removed.
            Batch.objects.select_for_update().filter(pk=batch.pk).first()
            fields["content_hash"] = batch_content_hash(batch)
        if target == BatchStatus.DRAFT:
            fields.update(submitted_by=None, submitted_at=None)
        if action == "return" and expected == BatchStatus.REVIEWED:
            fields.update(reviewed_by=None, reviewed_at=None)
        updated = Batch.objects.filter(pk=batch.pk, status=expected).update(**fields)
        if updated != 1:
            raise ConflictError("批次状态已经变化（可能已被他人处理），请刷新页面后再试。")
        step = BatchStep.objects.create(
            batch=batch,
            action=action,
            level=level,
            user=user,
            at=now,
            from_status=expected,
            to_status=target,
            comment=comment,
        )
        audit_record(
            user=user, action=f"batch_{action}", obj=batch, changes={"status": [expected, target]}, comment=comment
        )
        # Whoever must act next is told once this step has committed.
        after_commit(batch_step_notify, batch=batch, action=action, step_id=step.pk, target=target, comment=comment)
    batch.refresh_from_db()
    return batch


def batch_submit(*, batch: Batch, acting_user: User, comment: str = "") -> Batch:
    if not can_submit(acting_user, batch):
        raise PermissionDenied("只有本区县的人社专员可以提交发放批次。")
    if batch.status != BatchStatus.DRAFT:
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，只有草稿可以提交。")
    if batch.line_count == 0:
        raise DomainError("批次没有发放明细，不能提交。")
    blocked = batch_submission_block(batch)  # 公示 and fraud holds
    if blocked:
        raise ConflictError(blocked)
    _maker_checker(acting_user, batch, LEVEL_DISTRICT)
    if batch.channel == Channel.RED_PACKET:
        _red_packet_phones(batch, acting_user)
    return _chain_step(batch, acting_user, "submit", comment)


# The forward steps of the chain: action → (level, from, to, the batch's who/when fields).
CHAIN = {
    "submit": (LEVEL_DISTRICT, BatchStatus.DRAFT, BatchStatus.SUBMITTED, "submitted"),
    "review": (LEVEL_CITY, BatchStatus.SUBMITTED, BatchStatus.REVIEWED, "reviewed"),
    "approve": (LEVEL_PROVINCE, BatchStatus.REVIEWED, BatchStatus.APPROVED, "approved"),
}


def _chain_step(batch: Batch, user: User, action: str, comment: str) -> Batch:
    level, expected, target, stamp = CHAIN[action]
    return _transition(
        batch=batch,
        user=user,
        action=action,
        level=level,
        expected=expected,
        target=target,
        comment=comment,
        stamp=stamp,
    )


def _red_packet_phones(batch: Batch, user: User) -> None:
    """A red packet is paid to a phone: a draft's line built while its person had none takes
    the phone given since (audited, masked); one still without refuses the submission, named."""
    for line in PaymentLine.objects.filter(batch=batch, account_cipher="").select_related("entitlement__person"):
        person = line.entitlement.person
        if person.phone_cipher:
            PaymentLine.objects.filter(pk=line.pk).update(
                account_cipher=person.phone_cipher, account_masked=person.phone_masked
            )
            audit_record(user=user, action="line_phone_fill", obj=line, changes={"phone": ["", person.phone_masked]})
    missing = list(
        PaymentLine.objects.filter(batch=batch, account_cipher="").order_by("seq").values_list("seq", "name")[:20]
    )
    if missing:
        listed = "、".join(f"第 {seq} 笔（{name}）" for seq, name in missing)
        raise DomainError(
            f"电子红包按手机号发放，以下明细没有手机号：{listed}。请先补录这些人员的手机号"
            "（或改为现金领取并重新计算），再提交。"
        )


def batch_review(*, batch: Batch, acting_user: User, comment: str = "") -> Batch:
    if not can_review(acting_user, batch):
        raise PermissionDenied("只有所属市的人社部门人员可以复核本批次。")
    if batch.status != BatchStatus.SUBMITTED:
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，只有区县已提交的批次可以复核。")
    _maker_checker(acting_user, batch, LEVEL_CITY)
    return _chain_step(batch, acting_user, "review", comment)


def batch_approve(*, batch: Batch, acting_user: User, comment: str = "") -> Batch:
    if not can_approve(acting_user, batch):
        raise PermissionDenied("只有省级人社部门人员可以审批发放批次。")
    if batch.status != BatchStatus.REVIEWED:
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，只有市级已复核的批次可以审批。")
    _maker_checker(acting_user, batch, LEVEL_PROVINCE)
    problems = batch_integrity_problems(batch, check_hash=False)
    if problems:
        raise DomainError("批次数据不一致，不能审批：" + "；".join(problems))
    return _chain_step(batch, acting_user, "approve", comment)


def batch_return(*, batch: Batch, acting_user: User, comment: str) -> Batch:
    """Send the batch one step back with a reason: a submitted batch back to draft (by
    its reviewer), a reviewed batch back to submitted (by the province)."""
    comment = (comment or "").strip()
    if not comment:
        raise DomainError("退回时必须填写退回原因。", errors={"comment": ["请填写退回原因"]})
    if batch.status == BatchStatus.SUBMITTED:
        if not can_review(acting_user, batch):
            raise PermissionDenied("只有复核本批次的市级人员可以退回区县已提交的批次。")
        level, target = LEVEL_CITY, BatchStatus.DRAFT
    elif batch.status == BatchStatus.REVIEWED:
        if not can_approve(acting_user, batch):
            raise PermissionDenied("只有省级人员可以退回市级已复核的批次。")
        level, target = LEVEL_PROVINCE, BatchStatus.SUBMITTED
    else:
        raise ConflictError(f"批次当前状态为“{batch.get_status_display()}”，不能退回。")
    _maker_checker(acting_user, batch, level)
    return _transition(
        batch=batch,
        user=acting_user,
        action="return",
        level=level,
        expected=batch.status,
        target=target,
        comment=comment,
        stamp=None,
    )


def allowed_actions(user: User, batch: Batch) -> list[str]:
    """The chain actions `user` may take on `batch` now (for buttons and the API)."""
    actions = []
    levels = _levels_of(user, batch)
    if batch.status == BatchStatus.DRAFT and can_submit(user, batch) and levels <= {LEVEL_DISTRICT}:
        actions.append("submit")
    if batch.status == BatchStatus.SUBMITTED and can_review(user, batch) and levels <= {LEVEL_CITY}:
        actions += ["review", "return"]
    if batch.status == BatchStatus.REVIEWED and can_approve(user, batch) and levels <= {LEVEL_PROVINCE}:
        actions += ["approve", "return"]
    return actions


# --------------------------------------------------------------------------- integrity


def batch_content_hash(batch: Batch) -> str:
    """SHA-256 over every line's snapshot, in seq order: any later change to a name,
    an encrypted ID or account, a bank or an amount of a frozen batch shows up as a
    different hash."""
    digest = content_hasher(batch.number)
    rows = (
        PaymentLine.objects.filter(batch=batch)
        .order_by("seq")
        .values_list("seq", "entitlement_id", "amount", "name", "id_cipher", "account_cipher", "bank_name")
        .iterator(chunk_size=5000)
    )
    for seq, ent, amount, name, id_cipher, account_cipher, bank in rows:
        digest.update(f"{seq}|{ent}|{amount:.2f}|{name}|{id_cipher}|{account_cipher}|{bank}\n".encode())
    return digest.hexdigest()


def batch_integrity_problems(batch: Batch, *, check_hash: bool = True) -> list[str]:
    """What does not add up in this batch (empty when all is well). Shown as an alarm."""
    agg = PaymentLine.objects.filter(batch=batch).aggregate(n=Count("id"), total=Sum("amount"))
    differing = PaymentLine.objects.filter(batch=batch).exclude(entitlement__amount=F("amount")).count()
    return integrity_problems_of(
        batch,
        lines=agg["n"],
        total=agg["total"] or ZERO,
        differing=differing,
        content_hash=batch_content_hash(batch) if check_hash and batch.content_hash else None,
    )


def integrity_problems_of(
    batch: Batch, *, lines: int, total: Decimal, differing: int, content_hash: str | None
) -> list[str]:
    """The problems of `batch_integrity_problems` from figures read elsewhere (a bank
    file's export reads them from the lines it writes): the lines, their total, how many
    differ from their entitlement's amount, and the content hash (None: not checked)."""
    problems = []
    # In the language of the page that shows the alarm (a task's refusal: Chinese).
    if lines != batch.line_count:
        problems.append(
            gettext("明细笔数 %(lines)s 与批次笔数 %(count)s 不符") % {"lines": lines, "count": batch.line_count}
        )
    if total != batch.total:
        problems.append(
            gettext("明细金额合计 %(sum)s 元与批次金额 %(total)s 元不符")
            % {"sum": yuan_text(total), "total": yuan_text(batch.total)}
        )
    if differing:
        problems.append(gettext("%(n)s 笔明细金额与核定金额不符") % {"n": differing})
    if content_hash is not None and batch.content_hash and content_hash != batch.content_hash:
        problems.append(gettext("批次已冻结，但明细内容的校验值已改变（数据可能被篡改）"))
    return problems


# --------------------------------------------------------------------------- 补发


def line_correct(
    *,
    line: PaymentLine,
    account: str = "",
    bank_name: str = "",
    phone: str = "",
    acting_user: User,
    comment: str = "",
) -> PaymentLine:
    """Record a corrected account for a failed line (the registration's account is
    updated too), so that the line can be re-issued in a supplementary batch. A red
    packet's account is the phone number: its correction is the person's phone."""
    if line.status != LineStatus.FAILED:
        raise ConflictError("只有发放失败的明细可以更正账号。")
    if not can_submit(acting_user, line.batch):
        raise PermissionDenied("只有本区县的人社专员可以更正发放账号。")
    if line.batch.channel == Channel.RED_PACKET:
        return _line_correct_phone(line=line, phone=phone, acting_user=acting_user, comment=comment)
    number = pii.normalize_account(account)
    if not number.isdigit() or not 8 <= len(number) <= 30:
        raise DomainError("银行账号应为 8–30 位数字。", errors={"account": ["银行账号应为 8–30 位数字"]})
    bank_name = (bank_name or "").strip()
    if not bank_name:
        raise DomainError("请填写开户银行。", errors={"bank_name": ["请填写开户银行"]})
    if PaymentLine.objects.filter(reissue_of=line).exists():
        raise ConflictError("该明细已经补发，不能再更正。")
    with transaction.atomic():
        registration = line.entitlement.registration
        cipher, masked = pii.encrypt(number), pii.mask_account(number)
        old = {"account_masked": registration.account_masked, "bank_name": registration.bank_name}
        registration.account_cipher, registration.account_masked, registration.bank_name = cipher, masked, bank_name
        registration.updated_at = timezone.now()
        registration.save(update_fields=["account_cipher", "account_masked", "bank_name", "updated_at"])
        line.corrected_at = timezone.now()
        line.save(update_fields=["corrected_at"])
        audit_record(
            user=acting_user,
            action="line_correct",
            obj=line,
            changes={"account_masked": [old["account_masked"], masked], "bank_name": [old["bank_name"], bank_name]},
            comment=comment,
        )
        audit_record(
            user=acting_user,
            action="registration_account_correct",
            obj=registration,
            changes={"account_masked": [old["account_masked"], masked]},
            comment=f"发放失败后更正（批次 {line.batch.number} 第 {line.seq} 笔）",
        )
    return line


def _line_correct_phone(*, line: PaymentLine, phone: str, acting_user: User, comment: str) -> PaymentLine:
    """A failed red packet: the phone is corrected on the person (audited there, masked), or —
    a packet not claimed in time on a right number — confirmed as it is, with a note."""

    if not (phone or "").strip():
        raise DomainError(
            "请填写收红包的手机号（原号码无误、只是未及时领取的，也请再次填写该号码）。",
            errors={"phone": ["请填写手机号"]},
        )
    if PaymentLine.objects.filter(reissue_of=line).exists():
        raise ConflictError("该明细已经补发，不能再更正。")
    with transaction.atomic():
        person = line.entitlement.person
        before = person.phone_masked
        person = person_correct(
            person=person,
            acting_user=acting_user,
            phone=phone,
            comment=comment or f"电子红包发放失败后更正（批次 {line.batch.number} 第 {line.seq} 笔）",
        )
        line.corrected_at = timezone.now()
        line.save(update_fields=["corrected_at"])
        audit_record(
            user=acting_user,
            action="line_correct",
            obj=line,
            changes={"phone": [before, person.phone_masked]},
            comment=comment,
        )
    return line


def batch_build_supplement(*, batch: Batch, acting_user: User) -> Batch:
    """补发: a new batch, `parent` = `batch`, with the corrected failed lines of `batch`
    (snapshot from the corrected registration). The partial unique index on lines
    makes a second pending/paid line of the same entitlement impossible."""
    if not can_submit(acting_user, batch):
        raise PermissionDenied("只有本区县的人社专员可以生成补发批次。")
    with transaction.atomic():
        _lock(batch.programme_id, batch.district_id)
        failed = _reissuable(batch)
        if not failed:
            raise DomainError("没有已更正、待补发的失败明细。请先为发放失败的明细更正账号。")
        now = timezone.now()
        supplement = Batch.objects.create(
            programme_id=batch.programme_id,
            district_id=batch.district_id,
            channel=batch.channel,
            number=_next_number(batch.programme, batch.district_id, batch.channel, supplement=True),
            parent=batch,
            created_by=acting_user,
            created_at=now,
        )
        lines = [_reissue(supplement, seq, old, now) for seq, old in enumerate(failed, start=1)]
        PaymentLine.objects.bulk_create(lines)
        batch_recount(supplement)
        BatchStep.objects.create(
            batch=supplement,
            action="build",
            level=LEVEL_DISTRICT,
            user=acting_user,
            at=now,
            to_status=BatchStatus.DRAFT,
        )
        audit_record(
            user=acting_user,
            action="batch_build_supplement",
            obj=supplement,
            changes={"parent": batch.number, "lines": supplement.line_count, "total": str(supplement.total)},
        )
        for line in lines:
            audit_record(user=acting_user, action="line_reissue", obj=line, changes={"reissue_of": line.reissue_of_id})
    return supplement


def _reissuable(batch: Batch) -> list[PaymentLine]:
    """The corrected failed lines of `batch` that no line pays yet: neither re-issued,
    nor withdrawn since, nor switched to another channel, nor paid or pending elsewhere."""
    return list(
        PaymentLine.objects.filter(
            batch=batch,
            status=LineStatus.FAILED,
            corrected_at__isnull=False,
            # Withdrawn since it failed (a top-up no longer needed): nothing to re-issue.
            entitlement__status=EntitlementStatus.GRANTED,
            # Switched to another channel since (a failed red packet, now cash): that
            # channel's build takes it.
            entitlement__channel=batch.channel,
        )
        .exclude(Exists(PaymentLine.objects.filter(reissue_of=OuterRef("pk"))))
        .exclude(
            Exists(
                PaymentLine.objects.filter(
                    entitlement=OuterRef("entitlement"), status__in=[LineStatus.PENDING, LineStatus.PAID]
                )
            )
        )
        .select_related("entitlement__person", "entitlement__registration")
        .order_by("seq")
    )


def _reissue(supplement: Batch, seq: int, old: PaymentLine, now) -> PaymentLine:
    """The 补发 line of a failed one: snapshot from the corrected registration (or phone)."""
    ent = old.entitlement
    person, reg = ent.person, ent.registration
    account_cipher, account_masked, bank_name = line_payee(supplement.channel, person, reg)
    return PaymentLine(
        batch=supplement,
        entitlement=ent,
        seq=seq,
        amount=ent.amount,
        name=person.name,
        id_cipher=person.id_cipher,
        id_masked=person.id_masked,
        account_cipher=account_cipher,
        account_masked=account_masked,
        bank_name=bank_name,
        reissue_of=old,
        updated_at=now,
    )


def batch_totals_by_status(batch: Batch) -> dict[str, dict]:
    rows = PaymentLine.objects.filter(batch=batch).values("status").annotate(n=Count("id"), total=Sum("amount"))
    out = {s: {"count": 0, "total": ZERO} for s in LineStatus.values}
    for row in rows:
        out[row["status"]] = {"count": row["n"], "total": row["total"] or Decimal("0")}
    return out


def q_batches_needing(user: User) -> Q:
    """Batches waiting for this user's level (for the list's 待办 filter)."""
    if user.role == Role.DISTRICT:
        return Q(status=BatchStatus.DRAFT)
    if user.role == Role.CITY:
        return Q(status=BatchStatus.SUBMITTED)
    if user.role == Role.PROVINCE:
        return Q(status=BatchStatus.REVIEWED) | Q(status=BatchStatus.SUBMITTED, district__direct_report=True)
    return Q(pk__in=[])
