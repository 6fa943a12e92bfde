"""The audit trail as people read it: Chinese labels for actions, fields and values,
the person's name and role, amounts in the common format, and bulk changes (one audit
row per payment line of a bank result) summarised as one row.

Value labels come from the audited model's own field choices (through the app
registry, so this module imports no app above accounts); field names from the table
below, else the model field's verbose name.
"""

import json
from dataclasses import dataclass, field

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from core.money import MoneyError, yuan_text

ACTION_LABELS = {
    "reveal": _("查看完整号码"),
    "job_retry": _("重试任务"),
    "pii_rotate": _("更换加密密钥"),
    "employer_register": _("登记用人单位"),
    "employer_update": _("修改用人单位"),
    "employer_verify": _("审核通过用人单位"),
    "employer_return": _("退回用人单位"),
    "employers_import": _("导入企业名单"),
    "registration_create": _("登记留岗人员"),
    "registration_update": _("修改留岗登记"),
    "registration_withdraw": _("撤销留岗登记"),
    "registration_reject": _("驳回留岗登记"),
    "registration_reinstate": _("恢复留岗登记"),
    "registration_resolve_conflict": _("处理重复登记"),
    "registration_account_correct": _("更正银行账号"),
    "registrations_import": _("批量导入留岗人员"),
    "programme_create": _("创建项目"),
    "programme_update": _("修改项目"),
    "rule_create": _("创建补贴规则"),
    "rule_update": _("修改补贴规则"),
    "rule_new_version": _("生成规则新版本"),
    "rule_activate": _("启用补贴规则"),
    "rule_retire": _("停用补贴规则"),
    "survey_create": _("填报摸排"),
    "survey_update": _("修改摸排"),
    "survey_submit": _("提交摸排"),
    "survey_approve": _("审核通过摸排"),
    "survey_return": _("退回摸排"),
    "survey_lock": _("锁定摸排"),
    "entitlements_compute": _("计算补贴"),
    "entitlement_recompute": _("重新计算补贴"),
    "batch_build": _("生成发放批次"),
    "batch_build_supplement": _("生成补发批次"),
    "batch_submit": _("提交批次"),
    "batch_review": _("市级复核通过"),
    "batch_approve": _("省级审批通过"),
    "batch_return": _("退回批次"),
    "batch_export": _("导出银行文件"),
    "bank_file_download": _("下载银行文件"),
    "batch_results": _("导入银行结果"),
    "batch_reconcile": _("对账完成"),
    "line_result": _("银行结果"),
    "line_correct": _("更正账号"),
    "line_phone_fill": _("补录红包手机号"),
    "line_reissue": _("补发"),
    "vouchers_issue": _("发放消费券"),
    "line_voucher": _("发券"),
    "voucher_redeem": _("消费券核销"),
    "voucher_list_download": _("下载发券清单"),
    "dashboard_export": _("导出看板"),
    "employer_payments_export": _("导出发放情况"),
    "audit_export": _("导出审计记录"),
    "employer_list_export": _("导出用人单位名单"),
    "registration_list_export": _("导出登记名单"),
    "user_create": _("创建用户"),
    "user_update": _("修改用户"),
    "user_disable": _("停用用户"),
    "user_enable": _("启用用户"),
    "user_password_reset": _("重置密码"),
    # Corrections, settled money and the 多发 list (docs/rules.md, docs/disbursements.md)
    "person_correct": _("更正人员信息"),
    "person_update": _("登记时更新人员信息"),
    "registration_move": _("迁移登记区县"),
    "employer_move": _("迁移用人单位区县"),
    "entitlement_withdraw": _("撤销补贴核定"),
    "entitlement_adjust": _("追回（负数调整）"),
    "overpayment_decide": _("处理多发/待核查"),
    # 公示, fraud signals and appeals (docs/transparency.md)
    "notice_publish": _("发布公示"),
    "notice_withdraw": _("撤回公示"),
    "notice_objections_view": _("查看公示异议"),
    "objection_file": _("提出公示异议"),
    "objection_resolve": _("处理公示异议"),
    "batch_line_remove": _("公示异议成立，移出明细"),
    "line_withdraw": _("撤回发放明细"),
    "signal_view": _("查看风险预警"),
    "signal_clear": _("排除风险预警"),
    "signal_confirm": _("确认风险（暂停登记）"),
    "signal_reopen": _("重新打开风险预警"),
    "appeal_file": _("提出申诉"),
    "appeal_view": _("查看申诉"),
    "appeal_resolve": _("办结申诉"),
    # Jobs (docs/operations.md "Jobs")
    "job_recover": _("任务自动恢复"),
    "job_give_up": _("任务多次失败后终止"),
}
OBJECT_LABELS = {
    "disbursements.batch": _("发放批次"),
    "disbursements.paymentline": _("发放明细"),
    "disbursements.entitlement": _("补贴核定"),
    "disbursements.voucher": _("消费券"),
    "beneficiaries.registration": _("留岗登记"),
    "beneficiaries.employer": _("用人单位"),
    "beneficiaries.person": _("人员"),
    "programs.subsidyrule": _("补贴规则"),
    "programs.surveyreport": _("摸排报表"),
    "programs.programme": _("项目"),
    "accounts.user": _("用户"),
    "accounts.job": _("后台任务"),
    "regions.region": _("区域"),
}
FIELD_LABELS = {
    "status": _("状态"),
    "rows": _("行数"),
    "changed": _("变更笔数"),
    "paid": _("成功"),
    "failed": _("失败"),
    "pending": _("待定"),
    "file": _("文件"),
    "lines": _("笔数"),
    "total": _("金额（元）"),
    "amount": _("金额（元）"),
    "reason": _("原因"),
    "account_masked": _("银行账号"),
    "phone": _("手机号"),
    "channel": _("发放渠道"),
    "bank_name": _("开户银行"),
    "reissue_of": _("补发自明细"),
    "parent": _("原批次"),
    "sha256": _("校验值"),
    "superseded": _("被取代的版本"),
    "district": _("区县"),
    "districts": _("区县数"),
    "written": _("写入"),
    "withdrawn": _("撤销"),
    "flagged": _("待复核"),
    "person": _("人员"),
    "employer": _("用人单位"),
    "programme": _("项目"),
    "field": _("字段"),
    "vouchers": _("张数"),
    "role": _("角色"),
    "region": _("管辖区域"),
    "is_active": _("启用"),
    "can_view_pii": _("可查看完整号码"),
    "state": _("状态"),
}
MONEY_FIELDS = {"total", "amount", "benefits_amount", "budget", "budget_cap"}
# One audit row per line, written together (same action, person and instant): one row here.
BULK_ACTIONS = {"line_result", "line_reissue", "line_voucher"}


@dataclass
class AuditRow:
    at: object
    who: str
    role: str
    action: str
    label: str
    object_type: str
    object_label: str
    object_id: str
    text: str
    comment: str
    count: int = 1
    ids: list = field(default_factory=list)


def _model(object_type: str):
    try:
        return apps.get_model(object_type)
    except (LookupError, ValueError):
        return None


def field_label(object_type: str, name: str) -> str:
    if name in FIELD_LABELS:
        return str(FIELD_LABELS[name])
    model = _model(object_type)
    if model is not None:
        try:
            return str(model._meta.get_field(name).verbose_name)
        except FieldDoesNotExist:
            pass
    return name


def value_label(object_type: str, name: str, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return gettext("是") if value else gettext("否")
    if name in MONEY_FIELDS:
        try:
            return yuan_text(value)
        except (MoneyError, TypeError):
            return str(value)
    if name == "role":
        try:
            return str(Role(value).label)
        except ValueError:
            return str(value)
    model = _model(object_type)
    if model is not None and isinstance(value, str):
        try:
            choices = dict(model._meta.get_field(name).flatchoices)
        except FieldDoesNotExist:
            choices = {}
        if value in choices:
            return str(choices[value])
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)[:200]
    return str(value)


def changes_text(object_type: str, action: str, changes: dict) -> str:
    """One line: a sentence for the known summaries, else "字段：旧 → 新；…"."""
    changes = changes or {}
    if action == "batch_results" and "rows" in changes:
        text = gettext("%(rows)s 笔，成功 %(paid)s，失败 %(failed)s") % {
            "rows": changes.get("rows"),
            "paid": changes.get("paid", 0),
            "failed": changes.get("failed", 0),
        }
        if changes.get("pending"):
            text += gettext("，待定 %(n)s") % {"n": changes["pending"]}
        return text
    parts = []
    for name, value in changes.items():
        label = field_label(object_type, name)
        if isinstance(value, list) and len(value) == 2 and not isinstance(value[0], dict | list):
            old, new = (value_label(object_type, name, v) for v in value)
            parts.append(f"{label}{gettext('：')}{old} → {new}")
        else:
            parts.append(f"{label}{gettext('：')}{value_label(object_type, name, value)}")
    return gettext("；").join(parts)


def _who(user) -> tuple[str, str]:
    if user is None:
        return gettext("系统"), ""
    role = Role.ADMIN if user.is_superuser else user.role
    try:
        role_label = str(Role(role).label)
    except ValueError:
        role_label = ""
    region = f" · {user.region.name}" if getattr(user, "region_id", None) and user.region else ""
    return user.get_full_name() or user.username, role_label + region


def _row(entry, *, count: int = 1, text: str | None = None, ids=None) -> AuditRow:
    who, role = _who(entry.user)
    return AuditRow(
        at=entry.at,
        who=who,
        role=role,
        action=entry.action,
        label=str(ACTION_LABELS.get(entry.action, entry.action)),
        object_type=entry.object_type,
        object_label=str(OBJECT_LABELS.get(entry.object_type, entry.object_type)),
        object_id=entry.object_id,
        text=changes_text(entry.object_type, entry.action, entry.changes) if text is None else text,
        comment=entry.comment,
        count=count,
        ids=ids or [entry.object_id],
    )


def _bulk_text(entries) -> str:
    """'605 笔：已发放 602，发放失败 3' from the lines' new statuses."""
    by_status: dict[str, int] = {}
    for entry in entries:
        status = (entry.changes or {}).get("status")
        new = status[1] if isinstance(status, list) and len(status) == 2 else None
        by_status[new] = by_status.get(new, 0) + 1
    head = gettext("%(n)s 笔") % {"n": len(entries)}
    detail = gettext("，").join(
        f"{value_label(entries[0].object_type, 'status', s)} {n}" for s, n in by_status.items() if s is not None
    )
    return f"{head}{gettext('：')}{detail}" if detail else head


def audit_rows(entries) -> list[AuditRow]:
    """Rows for display, newest first as given; bulk entries of one instant are one row."""
    rows: list[AuditRow] = []
    group: list = []

    def flush():
        if not group:
            return
        if len(group) == 1:
            rows.append(_row(group[0]))
        else:
            rows.append(_row(group[0], count=len(group), text=_bulk_text(group), ids=[e.object_id for e in group]))
        group.clear()

    for entry in entries:
        key = (entry.action, entry.user_id, entry.at, entry.object_type)
        if (
            group
            and entry.action in BULK_ACTIONS
            and key
            == (
                group[0].action,
                group[0].user_id,
                group[0].at,
                group[0].object_type,
            )
        ):
            group.append(entry)
            continue
        flush()
        if entry.action in BULK_ACTIONS:
            group.append(entry)
        else:
            rows.append(_row(entry))
    flush()
    return rows


def audit_rows_grouped(qs, *, before=None, limit: int = 50) -> tuple[list[AuditRow], object]:
    """A page of rows of the (scoped, filtered) queryset `qs`, newest first, bulk groups
    collapsed; keyset paging by time: returns (rows, the cursor of the next page or None).

    Walks the entries down the `at` index and, meeting an entry of a bulk group (a bank
    result's one entry per line, written by one statement with one `now`: same action,
    person and instant), counts the group in SQL and goes on strictly older than its
    instant. A page costs a few indexed queries whatever the size of the trail, where a
    GROUP BY over a million rows took seconds. Entries are ordered by `at` alone (an
    ORDER BY with the id too made PostgreSQL sort a whole bulk instant for every page);
    entries of one instant are never split between pages.
    """
    from django.db.models import Count
    from django.db.models.fields.json import KT

    ordered = qs.select_related("user", "user__region").order_by("-at")
    rows: list[AuditRow] = []
    cursor = before
    shown: set[int] = set()
    while len(rows) < limit:
        window = ordered if cursor is None else ordered.filter(at__lt=cursor)
        chunk = list(window[: limit - len(rows)])
        if not chunk:
            return rows, None
        for entry in chunk:
            if entry.action not in BULK_ACTIONS:
                rows.append(_row(entry))
                shown.add(entry.pk)
                continue
            group = qs.filter(action=entry.action, user_id=entry.user_id, at=entry.at, object_type=entry.object_type)
            counts = list(group.order_by().values(new=KT("changes__status__1")).annotate(c=Count("id")))
            total = sum(c["c"] for c in counts)
            if total == 1:
                rows.append(_row(entry))
            else:
                detail = gettext("，").join(
                    f"{value_label(entry.object_type, 'status', c['new'])} {c['c']}" for c in counts if c["new"]
                )
                head = gettext("%(n)s 笔") % {"n": total}
                rows.append(_row(entry, count=total, text=f"{head}{gettext('：')}{detail}" if detail else head))
            shown.add(entry.pk)
            cursor = entry.at
            break  # past the group's instant: read on from there
        else:
            cursor = chunk[-1].at
            # The rest of the last instant, so that no page boundary splits it.
            rest = [e for e in ordered.filter(at=cursor).exclude(action__in=BULK_ACTIONS) if e.pk not in shown]
            rows.extend(_row(e) for e in rest)
            shown.update(e.pk for e in rest)
    more = ordered.filter(at__lt=cursor).exists()
    return rows, cursor if more else None


def cursor_text(cursor) -> str:
    """A page cursor for a URL (the instant the next page starts strictly before)."""
    return cursor.isoformat() if cursor else ""


def cursor_parse(text: str):
    import datetime as dt

    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
