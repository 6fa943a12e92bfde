"""Paper for signatures: a batch's 审批表 and a district's 发放汇总表, as PDFs.

Approvals of public money are signed on paper: the 审批表 carries what the portal
recorded (the batch, its totals by scheme, every approval step with person, role and
time, the content hash) and boxes for the hand signatures of each level. The 汇总表 is
a district's reconciliation (核定 = 已发放 + 失败 + 待发放 + 追回) by scheme, with its
batches, for the district's files.

Both read only what the caller may see (the views pass objects taken from the user's
scope), carry no ID number, phone or account, and are deterministic: the same data
gives the same bytes (the 审批表's printing time is an argument; the 汇总表 prints the
time of the newest change it covers instead of "now"). Labels follow the active
language; names, places and schemes are data and stay as recorded.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape

from django.db.models import Count, Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from accounts.choices import Role
from core.money import ZERO, yuan_in_words, yuan_text
from core.pdf import pdf_build, pdf_font, pdf_styles, table_style
from disbursements.choices import BatchStatus, EntitlementKind
from disbursements.models import Batch, BatchStep, Entitlement, PaymentLine
from disbursements.services.batches import ACTION_LABELS, LEVEL_CITY, LEVEL_PROVINCE
from disbursements.services.reconciliation import reconcile
from programs.choices import Channel

# --------------------------------------------------------------------------- data


@dataclass
class SchemeTotal:
    scheme: str
    count: int = 0
    total: Decimal = ZERO
    paid: Decimal = ZERO
    failed: Decimal = ZERO
    pending: Decimal = ZERO


def batch_scheme_totals(batch: Batch) -> list[SchemeTotal]:
    """The batch's lines summed by scheme (rule name; a 补差 top-up apart), by status."""
    rows = (
        PaymentLine.objects.filter(batch=batch)
        .values("entitlement__rule__name", "entitlement__kind", "status")
        .annotate(n=Count("id"), s=Sum("amount"))
        .order_by("entitlement__rule__name", "entitlement__kind", "status")
    )
    out: dict[tuple, SchemeTotal] = {}
    for row in rows:
        kind = row["entitlement__kind"]
        name = row["entitlement__rule__name"]
        if kind != EntitlementKind.BASE:
            name = f"{name}（{EntitlementKind(kind).label}）"
        item = out.setdefault((row["entitlement__rule__name"], kind), SchemeTotal(scheme=name))
        amount = row["s"] or ZERO
        item.count += row["n"]
        item.total += amount
        setattr(item, row["status"], getattr(item, row["status"]) + amount)
    return list(out.values())


def _person(user) -> str:
    return (user.get_full_name() or user.username) if user else ""


def _role(user) -> str:
    if user is None:
        return ""
    role = str(Role(user.role).label) if user.role in Role.values else user.role
    return f"{role} · {user.region.name}" if user.region_id else role


def _when(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else ""


# --------------------------------------------------------------------------- layout helpers


def _page_label(page: int, pages: int) -> str:
    return _("第 %(page)s 页 共 %(pages)s 页") % {"page": page, "pages": pages}


def _p(text, style):
    from reportlab.platypus import Paragraph

    return Paragraph(escape(str(text)), style)


def _heads(labels, cell, *, right=()):
    """A header row that wraps (English labels are longer than the Chinese ones)."""
    from reportlab.lib.styles import ParagraphStyle

    right_style = ParagraphStyle("cell-right", parent=cell, alignment=2)
    return [_p(label, right_style if i in right else cell) for i, label in enumerate(labels)]


def _fields_table(pairs, font, cell, width):
    """Label/value pairs two to a row, as on a printed form."""
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    rows = []
    for i in range(0, len(pairs), 2):
        row = []
        for label, value in pairs[i : i + 2]:
            row += [_p(label, cell), _p(value, cell)]
        rows.append(row + [""] * (4 - len(row)))
    table = Table(rows, colWidths=[width * 0.16, width * 0.34, width * 0.16, width * 0.34])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f2f2f2")),
                ("BACKGROUND", (2, 0), (2, -1), colors.HexColor("#f2f2f2")),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _signature_table(boxes, font, cell, width):
    """One box per signing role: the role, who acted in the portal, then room to sign and date."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Table, TableStyle

    heads = [_p(role, cell) for role, _who in boxes]
    recorded = [
        _p(_("系统记录：%(who)s") % {"who": who or "—"}, cell) if who is not None else "" for _label, who in boxes
    ]
    sign = [_p(_("签字："), cell) for _box in boxes]
    date = [_p(_("日期：%(blank)s年%(blank)s月%(blank)s日") % {"blank": "\u00a0" * 6}, cell) for _box in boxes]
    table = Table(
        [heads, recorded, sign, date],
        colWidths=[width / len(boxes)] * len(boxes),
        rowHeights=[None, None, 18 * mm, None],
    )
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("BOX", (0, 0), (-1, -1), 0.6, colors.black),
                ("LINEBEFORE", (1, 0), (-1, -1), 0.6, colors.black),
                ("LINEBELOW", (0, 0), (-1, 0), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f2f2f2")),
                ("VALIGN", (0, 1), (-1, 2), "TOP"),
            ]
        )
    )
    return table


# --------------------------------------------------------------------------- 审批表


def batch_approval_pdf(batch: Batch, *, printed_at: datetime, printed_by=None) -> bytes:
    """The batch's 审批表 (A4, ReportLab): header, totals by scheme, approval steps,
    signature boxes, content hash; page numbers and the printing time in the footer."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    font = pdf_font().name
    st = pdf_styles(font)
    width = 180 * mm
    story = [
        _p(_("%(programme)s 补贴发放审批表") % {"programme": batch.programme.name}, st["title"]),
        _p(_("批次号 %(number)s") % {"number": batch.number}, st["subtitle"]),
        Spacer(1, 4 * mm),
        _fields_table(_approval_fields(batch), font, st["cell"], width),
    ]
    story += [Spacer(1, 3 * mm), _p(_("一、按补贴项目汇总"), st["heading"])]
    story += _approval_schemes(batch, font, st)
    steps = list(BatchStep.objects.filter(batch=batch).select_related("user__region").order_by("at", "id"))
    story += [Spacer(1, 3 * mm), _p(_("二、审批流程"), st["heading"]), _approval_steps(steps, font, st)]
    story += [Spacer(1, 3 * mm), _p(_("三、签字"), st["heading"])]
    story.append(_signature_table(_approval_signatures(batch, steps), font, st["cell"], width))
    story += [
        Spacer(1, 4 * mm),
        _p(
            _("明细校验值（SHA-256，冻结时计算，覆盖每一笔的收款人、账号与金额）：%(hash)s")
            % {"hash": batch.content_hash or _("未冻结（批次尚未审批）")},
            st["small"],
        ),
    ]
    if batch.file_checksum:
        story.append(_p(_("银行文件校验值（SHA-256）：%(hash)s") % {"hash": batch.file_checksum}, st["small"]))
    footer = _("打印时间 %(at)s") % {"at": _when(printed_at)}
    if printed_by is not None:
        footer += _(" · 打印人 %(who)s") % {"who": _person(printed_by)}
    return pdf_build(
        story,
        title=f"{batch.number} {_('审批表')}",
        author=batch.district.name,
        footer=footer,
        page_label=_page_label,
    )


def _channel_label(channel: str) -> str:
    return Channel(channel).label if channel in Channel.values else channel


def _approval_fields(batch: Batch) -> list[tuple]:
    """The 审批表's header: what the batch is, how much, who built it."""
    city = batch.district.parent.name if batch.district.parent_id else ""
    pairs = [
        (_("发放项目"), batch.programme.name),
        (_("区县"), f"{city} {batch.district.name}".strip()),
        (_("发放渠道"), _channel_label(batch.channel)),
        (_("批次状态"), BatchStatus(batch.status).label),
        (_("笔数"), ngettext("%(n)s 笔", "%(n)s 笔", batch.line_count) % {"n": batch.line_count}),
        (_("金额（元）"), yuan_text(batch.total)),
        (_("金额（大写）"), yuan_in_words(batch.total)),
        (_("生成"), f"{_person(batch.created_by)} {_when(batch.created_at)}".strip()),
    ]
    if batch.parent_id:
        pairs.append((_("补发原批次"), batch.parent.number))
    return pairs


def _approval_schemes(batch: Batch, font, st) -> list:
    """一、the totals by scheme, and a warning when the lines do not add up to the batch."""
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable

    schemes = batch_scheme_totals(batch)
    lines_total = sum((s.total for s in schemes), ZERO)
    lines_count = sum(s.count for s in schemes)
    data = [
        _heads(
            [_("补贴项目"), _("笔数"), _("金额（元）"), _("已发放"), _("发放失败"), _("待发放")],
            st["cell"],
            right=(1, 2, 3, 4, 5),
        )
    ]
    for s in schemes:
        data.append(
            [
                _p(s.scheme, st["cell"]),
                str(s.count),
                yuan_text(s.total),
                yuan_text(s.paid),
                yuan_text(s.failed),
                yuan_text(s.pending),
            ]
        )
    data.append(
        [
            _("合计"),
            str(lines_count),
            yuan_text(lines_total),
            yuan_text(sum((s.paid for s in schemes), ZERO)),
            yuan_text(sum((s.failed for s in schemes), ZERO)),
            yuan_text(sum((s.pending for s in schemes), ZERO)),
        ]
    )
    table = LongTable(data, colWidths=[56 * mm, 20 * mm, 26 * mm, 26 * mm, 26 * mm, 26 * mm], repeatRows=1)
    table.setStyle(table_style(font, money_cols=(1, 2, 3, 4, 5), total_row=True))
    out = [table]
    if lines_total != batch.total or lines_count != batch.line_count:
        out.append(
            _p(
                _("⚠ 明细合计 %(lines)s 元（%(n)s 笔）与批次金额 %(total)s 元（%(count)s 笔）不一致，请勿签批。")
                % {
                    "lines": yuan_text(lines_total),
                    "n": lines_count,
                    "total": yuan_text(batch.total),
                    "count": batch.line_count,
                },
                st["body"],
            )
        )
    return out


def _approval_steps(steps: list, font, st):
    """二、every step of the chain: who, in which role, when, with what comment."""
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable

    data = [_heads([_("序号"), _("环节"), _("办理人"), _("角色"), _("时间"), _("意见")], st["cell"])]
    for n, step in enumerate(steps, start=1):
        action = _(ACTION_LABELS.get(step.action, step.action))
        data.append(
            [
                str(n),
                _p(action, st["cell"]),
                _p(_person(step.user), st["cell"]),
                _p(_role(step.user), st["cell"]),
                _when(step.at),
                _p(step.comment or "", st["cell"]),
            ]
        )
    if len(data) == 1:
        data.append(["", _("尚无记录"), "", "", "", ""])
    table = LongTable(data, colWidths=[12 * mm, 28 * mm, 26 * mm, 38 * mm, 28 * mm, 48 * mm], repeatRows=1)
    table.setStyle(table_style(font))
    return table


def _approval_signatures(batch: Batch, steps: list) -> list[tuple]:
    """三、the signature boxes, each with the name of who did that level's step (the
    head of the district's bureau signs on paper only)."""
    by_level = {}
    for step in steps:
        if step.action in ("submit", "review", "approve"):
            by_level[step.level] = _person(step.user)
    boxes = [
        (_("区县经办人"), _person(batch.submitted_by or batch.created_by)),
        (_("区县人社部门负责人"), None),  # signs on paper only
    ]
    if not batch.district.direct_report:
        boxes.append((_("市级复核人"), by_level.get(LEVEL_CITY, _person(batch.reviewed_by))))
    boxes.append((_("省级审批人"), by_level.get(LEVEL_PROVINCE, _person(batch.approved_by))))
    return boxes


# --------------------------------------------------------------------------- 汇总表


def district_data_as_of(programme, region) -> datetime | None:
    """The newest change the 汇总表 covers: a computation, a line's status, an approval step."""
    under = region.path
    moments = [
        Entitlement.objects.filter(programme=programme, district__path__startswith=under).aggregate(
            m=Max("computed_at")
        )["m"],
        PaymentLine.objects.filter(batch__programme=programme, batch__district__path__startswith=under).aggregate(
            m=Max("updated_at")
        )["m"],
        BatchStep.objects.filter(batch__programme=programme, batch__district__path__startswith=under).aggregate(
            m=Max("at")
        )["m"],
    ]
    moments = [m for m in moments if m is not None]
    return max(moments) if moments else None


def district_summary_pdf(programme, region) -> bytes:
    """A district's (or a city's) 发放汇总表 for one programme: reconciliation by scheme
    and the batches, with signature boxes. Deterministic for the same data."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    font = pdf_font().name
    st = pdf_styles(font)
    width = 180 * mm
    total, rows = reconcile(programme=programme, district=region, by=("rule_key",))
    as_of = district_data_as_of(programme, region)
    parent = region.parent.name if region.parent_id and region.level == "district" else ""

    story = [
        _p(
            _("%(programme)s %(region)s 补贴发放汇总表") % {"programme": programme.name, "region": region.name},
            st["title"],
        ),
        _p(
            _("项目期间 %(start)s 至 %(end)s · 数据截至 %(as_of)s")
            % {"start": programme.start_date, "end": programme.end_date, "as_of": _when(as_of) or "—"},
            st["subtitle"],
        ),
        Spacer(1, 4 * mm),
    ]
    pairs = [
        (_("区县") if region.level == "district" else _("区域"), f"{parent} {region.name}".strip()),
        (_("区划代码"), region.code),
        (_("核定人次"), str(total.entitled_count)),
        (_("核定金额（元）"), yuan_text(total.entitled)),
        (_("已发放（元）"), yuan_text(total.paid)),
        (_("已发放（大写）"), yuan_in_words(total.paid)),
    ]
    story.append(_fields_table(pairs, font, st["cell"], width))
    story += [Spacer(1, 3 * mm), _p(_("一、按补贴项目对账"), st["heading"])]
    story += _summary_schemes(total, rows, font, st)
    story += [Spacer(1, 3 * mm), _p(_("二、发放批次"), st["heading"]), _summary_batches(programme, region, font, st)]
    story += [Spacer(1, 5 * mm)]
    boxes = [(_("制表人"), None), (_("审核人"), None), (_("单位负责人"), None), (_("单位（盖章）"), None)]
    story.append(_signature_table(boxes, font, st["cell"], width))
    return pdf_build(
        story,
        title=f"{programme.name} {region.name} {_('汇总表')}",
        author=region.name,
        footer=_("数据截至 %(at)s") % {"at": _when(as_of) or "—"},
        page_label=_page_label,
    )


def _summary_schemes(total, rows, font, st) -> list:
    """一、reconciliation by scheme, and whether it balances."""
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Spacer

    data = [
        _heads(
            [_("补贴项目"), _("核定人次"), _("核定金额"), _("已发放"), _("发放失败未补发"), _("待发放"), _("追回")],
            st["cell"],
            right=(1, 2, 3, 4, 5, 6),
        )
    ]
    for r in [*rows, total]:
        data.append(
            [
                _p(r.label, st["cell"]) if r is not total else _("合计"),
                str(r.entitled_count),
                yuan_text(r.entitled),
                yuan_text(r.paid),
                yuan_text(r.failed),
                yuan_text(r.pending),
                yuan_text(r.adjusted),
            ]
        )
    table = LongTable(data, colWidths=[44 * mm, 22 * mm, 24 * mm, 24 * mm, 24 * mm, 22 * mm, 20 * mm], repeatRows=1)
    table.setStyle(table_style(font, money_cols=(1, 2, 3, 4, 5, 6), total_row=True))
    if total.balanced:
        check = _("核定 = 已发放 + 发放失败 + 待发放 + 追回：平衡。")
    else:
        check = _("⚠ 对账不平：差额 %(difference)s 元。%(problems)s") % {
            "difference": yuan_text(total.difference),
            "problems": "；".join(str(p) for p in total.problems),
        }
    return [table, Spacer(1, 1.5 * mm), _p(check, st["body"])]


def _summary_batches(programme, region, font, st):
    """二、the batches of the region, with who approved them."""
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable

    batches = (
        Batch.objects.filter(programme=programme, district__path__startswith=region.path)
        .select_related("approved_by", "district")
        .order_by("created_at", "id")
    )
    data = [
        _heads(
            [_("批次号"), _("区县"), _("渠道"), _("状态"), _("笔数"), _("金额（元）"), _("省级审批")],
            st["cell"],
            right=(4, 5),
        )
    ]
    for b in batches:
        data.append(
            [
                _p(b.number, st["small"]),
                _p(b.district.name, st["cell"]),
                _p(_channel_label(b.channel), st["cell"]),
                _p(BatchStatus(b.status).label, st["cell"]),
                str(b.line_count),
                yuan_text(b.total),
                _p(f"{_person(b.approved_by)} {_when(b.approved_at)}".strip() or "—", st["cell"]),
            ]
        )
    if len(data) == 1:
        data.append(["", _("尚无发放批次"), "", "", "", "", ""])
    table = LongTable(data, colWidths=[44 * mm, 18 * mm, 18 * mm, 20 * mm, 18 * mm, 26 * mm, 36 * mm], repeatRows=1)
    table.setStyle(table_style(font, money_cols=(4, 5)))
    return table
