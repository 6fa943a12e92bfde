"""What an employer's workers were granted and paid (企业：补贴核定与发放情况).

Reads only, from `Entitlement.objects.for_user(user)`: an employer agent sees its own
employers' workers, an officer the workers in its region. Each entitlement shows the
rule version that granted it and the state of its latest payment line (a 补发 line is
later than the failed line it re-issues), with what to do when a payment failed.
Two queries whatever the page size: the entitlements, then their lines.
"""

import io
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy

from beneficiaries import pii
from beneficiaries.services.registrations import registration_update
from core.errors import ConflictError
from core.money import ZERO
from disbursements.choices import RED_PACKET_PAYEE, EntitlementKind, EntitlementStatus, LineStatus
from disbursements.models import Entitlement, PaymentLine
from disbursements.services.batches import line_correct
from programs.choices import Channel

# The states a row can be filtered by, in the order the summary shows them.
STATES = {
    "paid": gettext_lazy("已发放"),
    "failed": gettext_lazy("发放失败"),
    "pending": gettext_lazy("发放中"),
    "unbatched": gettext_lazy("已核定，待发放"),
    "other": gettext_lazy("已撤销或待复核"),
}
FAILED_TODO = gettext_lazy(
    "请核对该人员的开户银行和账号，在此填写正确的账号（或报所在区县人社专员更正），更正后将补发。"
)


@dataclass
class PaymentRow:
    entitlement_id: int
    registration_id: int
    name: str
    id_masked: str
    employer: str
    programme: str
    rule: str
    rule_version: int
    amount: Decimal
    channel: str
    state: str
    status: str
    account: str = ""
    reason: str = ""
    todo: str = ""
    reissue: bool = False
    correctable: bool = False
    lines: list = field(default_factory=list)
    kind: str = ""  # 补差 / 追回 beside the rule; "" for what the rule grants first


def _scoped(user, *, programme=None, employer=None):
    qs = Entitlement.objects.for_user(user).exclude(channel=Channel.EMPLOYER)
    if programme is not None:
        qs = qs.filter(programme=programme)
    if employer is not None:
        qs = qs.filter(registration__employer=employer)
    return qs


def _state(ent: Entitlement, current: PaymentLine | None) -> tuple[str, str, str]:
    """(state, status text, what to do) of one entitlement."""
    if ent.status != EntitlementStatus.GRANTED:
        return "other", ent.get_status_display(), ""
    if current is None:
        return "unbatched", str(STATES["unbatched"]), ""
    if current.status == LineStatus.PAID:
        day = f"{timezone.localdate(current.updated_at):%Y-%m-%d}"
        if current.reissue_of_id:
            return "paid", gettext("已补发（%(date)s）") % {"date": day}, ""
        return "paid", gettext("已发放（%(date)s）") % {"date": day}, ""
    if current.status == LineStatus.PENDING:
        return "pending", gettext("补发中") if current.reissue_of_id else gettext("发放中"), ""
    if current.corrected_at:
        return (
            "failed",
            gettext("发放失败：%(reason)s") % {"reason": current.failure_reason},
            gettext("账号已更正，等待补发。"),
        )
    if current.bank_name == RED_PACKET_PAYEE:
        # A red packet goes to the phone, which only the district officer corrects.
        return (
            "failed",
            gettext("发放失败：%(reason)s") % {"reason": current.failure_reason},
            gettext("电子红包未能领取：请本人核对手机号，联系区县人社专员更正或确认后补发；也可改为现金领取。"),
        )
    corrected = employer_corrected_account(current)
    if corrected:
        return (
            "failed",
            gettext("发放失败：%(reason)s") % {"reason": current.failure_reason},
            gettext("已更正为 %(account)s，等待区县人社专员补发。") % {"account": corrected},
        )
    return "failed", gettext("发放失败：%(reason)s") % {"reason": current.failure_reason}, str(FAILED_TODO)


def employer_payment_rows(user, *, programme=None, employer=None, state: str = "", offset=0, limit=100):
    """One page of rows (and whether there are more), ordered by worker and rule."""
    ents = list(
        _scoped(user, programme=programme, employer=employer)
        .select_related("person", "rule", "programme", "registration__employer")
        .order_by("registration__employer__name", "person__name", "person_id", "rule_key", "id")
    )
    lines: dict[int, list[PaymentLine]] = {}
    by_pk = {e.pk: e for e in ents}
    for line in PaymentLine.objects.filter(entitlement__in=list(by_pk)).order_by("id"):
        line.entitlement = by_pk[line.entitlement_id]  # no query per line for its registration
        lines.setdefault(line.entitlement_id, []).append(line)
    rows = []
    for ent in ents:
        history = lines.get(ent.pk, [])
        current = history[-1] if history else None
        row_state, status, todo = _state(ent, current)
        if state and row_state != state:
            continue
        rows.append(
            PaymentRow(
                entitlement_id=ent.pk,
                registration_id=ent.registration_id,
                name=ent.person.name,
                id_masked=ent.person.id_masked,
                employer=ent.registration.employer.name,
                programme=ent.programme.name,
                rule=ent.rule.name,
                rule_version=ent.rule.version,
                amount=ent.amount,
                channel=ent.get_channel_display(),
                state=row_state,
                status=status,
                account=current.account_masked if current else "",
                reason=current.failure_reason if current and current.status == LineStatus.FAILED else "",
                todo=todo,
                reissue=bool(current and current.reissue_of_id),
                correctable=row_state == "failed" and todo == str(FAILED_TODO),
                lines=history,
                kind="" if ent.kind == EntitlementKind.BASE else ent.get_kind_display(),
            )
        )
    return rows[offset : offset + limit], len(rows) > offset + limit, len(rows)


def employer_payment_summary(user, *, employer=None) -> list[dict]:
    """Per programme: people, granted, paid, failed (not re-issued), in payment, not yet in a batch."""
    ents = _scoped(user, employer=employer).filter(status=EntitlementStatus.GRANTED)
    live = Q(lines__status__in=[LineStatus.PENDING, LineStatus.PAID])
    rows = []
    for row in (
        ents.values("programme__code", "programme__name")
        .annotate(people=Count("person", distinct=True), entitled=Sum("amount"), n=Count("id", distinct=True))
        .order_by("programme__code")
    ):
        of = ents.filter(programme__code=row["programme__code"])
        paid = PaymentLine.objects.filter(entitlement__in=of, status=LineStatus.PAID).aggregate(
            n=Count("id"), s=Sum("amount")
        )
        pending = PaymentLine.objects.filter(entitlement__in=of, status=LineStatus.PENDING).aggregate(
            n=Count("id"), s=Sum("amount")
        )
        failed = (
            of.filter(lines__status=LineStatus.FAILED)
            .exclude(live)
            .distinct()
            .aggregate(n=Count("id"), s=Sum("amount"))
        )
        unbatched = of.filter(lines__isnull=True).aggregate(n=Count("id"), s=Sum("amount"))
        rows.append(
            {
                "code": row["programme__code"],
                "programme": row["programme__name"],
                "people": row["people"],
                "count": row["n"],
                "entitled": row["entitled"] or ZERO,
                "paid_count": paid["n"],
                "paid": paid["s"] or ZERO,
                "pending_count": pending["n"],
                "pending": pending["s"] or ZERO,
                "failed_count": failed["n"],
                "failed": failed["s"] or ZERO,
                "unbatched_count": unbatched["n"],
                "unbatched": unbatched["s"] or ZERO,
            }
        )
    return rows


def failed_payments_count(user) -> int:
    """Entitlements whose latest payment failed and is neither re-issued nor corrected yet."""
    live = Q(lines__status__in=[LineStatus.PENDING, LineStatus.PAID])
    corrected = Q(lines__status=LineStatus.FAILED, lines__corrected_at__isnull=False)
    return (
        _scoped(user)
        .filter(status=EntitlementStatus.GRANTED, lines__status=LineStatus.FAILED)
        .exclude(live)
        .exclude(corrected)
        .distinct()
        .count()
    )


XLSX_HEADERS = (
    gettext_lazy("用人单位"),
    gettext_lazy("姓名"),
    gettext_lazy("身份证号"),
    gettext_lazy("项目"),
    gettext_lazy("补贴"),
    gettext_lazy("规则版本"),
    gettext_lazy("金额（元）"),
    gettext_lazy("发放方式"),
    gettext_lazy("账号"),
    gettext_lazy("发放状态"),
    gettext_lazy("失败原因"),
    gettext_lazy("需要做什么"),
)


def employer_payments_xlsx(rows: list[PaymentRow]) -> bytes:
    """The rows as an .xlsx (masked numbers only; amounts as numbers with two places)."""
    import xlsxwriter

    buf = io.BytesIO()
    # Text stays text (a name like "=HYPERLINK(…)" is not a formula), as in the dashboards' export.
    book = xlsxwriter.Workbook(
        buf, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    sheet = book.add_worksheet(gettext("补贴发放"))
    bold = book.add_format({"bold": True})
    money = book.add_format({"num_format": "#,##0.00"})
    for col, header in enumerate(XLSX_HEADERS):
        sheet.write_string(0, col, str(header), bold)
    for r, row in enumerate(rows, start=1):
        values = (
            row.employer,
            row.name,
            row.id_masked,
            row.programme,
            f"{row.rule}（{row.kind}）" if row.kind else row.rule,
            row.rule_version,
            None,
            row.channel,
            row.account,
            row.status,
            row.reason,
            row.todo,
        )
        for col, value in enumerate(values):
            if col == 6:
                # XLSX keeps numbers as doubles: fen-exact up to 2^53, shown with two places.
                sheet.write_number(r, col, float(row.amount), money)
            elif col == 5:
                sheet.write_number(r, col, value)
            else:
                sheet.write_string(r, col, str(value or ""))
    sheet.set_column(0, 0, 28)
    sheet.set_column(1, 5, 14)
    sheet.set_column(6, 6, 12)
    sheet.set_column(7, 11, 18)
    sheet.freeze_panes(1, 0)
    book.close()
    return buf.getvalue()


# --------------------------------------------------------------------------- correcting a failed account


def employer_corrected_account(line: PaymentLine) -> str:
    """The masked account the employer has put on the registration since this line failed
    ("" when none): the officer may take it for the re-issue."""
    if line.bank_name == RED_PACKET_PAYEE:  # paid to the phone: a bank account is no correction
        return ""
    registration = line.entitlement.registration
    if line.status != LineStatus.FAILED or line.corrected_at or not registration.account_masked:
        return ""
    if registration.account_masked == line.account_masked and registration.bank_name == line.bank_name:
        return ""
    return registration.account_masked


def failed_line_account_correct(*, entitlement: Entitlement, account: str, bank_name: str, acting_user) -> None:
    """The employer corrects the account of a worker whose payment failed: the registration's
    account changes (beneficiaries' service checks and audits it); the district officer then
    takes it for the failed line and re-issues it. Refused when nothing failed."""
    from core.errors import ConflictError

    latest = PaymentLine.objects.filter(entitlement=entitlement).order_by("-id").first()
    if latest is None or latest.status != LineStatus.FAILED or latest.corrected_at:
        raise ConflictError(gettext("该人员没有待更正的发放失败记录。"))
    registration_update(
        registration=entitlement.registration, acting_user=acting_user, account=account, bank_name=bank_name
    )


def line_correct_from_registration(*, line: PaymentLine, acting_user):
    """The officer takes the account the employer corrected for a failed line (the number
    goes from the registration to the line without being shown to anybody)."""
    registration = line.entitlement.registration
    if not employer_corrected_account(line):
        raise ConflictError(gettext("单位尚未更正该人员的账号。"))
    return line_correct(
        line=line,
        account=pii.decrypt(registration.account_cipher),
        bank_name=registration.bank_name,
        acting_user=acting_user,
        comment=gettext("采用用人单位更正的账号"),
    )
