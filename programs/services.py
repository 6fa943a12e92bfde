"""Writes of programmes and subsidy rules. Every write is audited.

Rule lifecycle: draft → active → retired; editing a rule that has produced
entitlements makes a new version (same rule_key, version + 1, status draft) and
leaves the old one untouched, so each entitlement keeps the version that made it.
Activating a version supersedes the active one of the same rule_key.

Who may write: province staff anywhere in their province, city staff for rules whose
region lies in their city, superusers and admins. District officers and employer
agents read only. Every write names who does it: `acting_user`, or `system=True` for
the callers that act as the system (the demo loader, management commands, Celery
tasks); a write with neither is refused, so that a caller that forgot the user never
skips the permission check.
"""

from __future__ import annotations

import re

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts.choices import Role
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from core.errors import ConflictError, DomainError, PermissionDenied
from programs.choices import ProgrammeStatus, RuleStatus
from programs.models import Programme, SubsidyRule
from programs.rules.validate import rule_validate

RULE_FIELDS = (
    "name",
    "region",
    "kind",
    "amount",
    "tiers",
    "months",
    "channel",
    "alt_channel",
    "conditions",
    "valid_until",
    "budget_cap",
    "exclusivity_group",
    "priority",
    "description",
)


def can_manage_rules(user, region=None) -> bool:
    """Province and city staff manage rules in their region's subtree."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if is_admin(user):
        return True
    if user.role not in (Role.PROVINCE, Role.CITY) or user.region_id is None:
        return False
    return region is None or region.path.startswith(user.region.path)


def _check_actor(user, system: bool) -> None:
    """Refuse a write that names no user unless the caller said it acts as the system."""
    if user is None and not system:
        raise PermissionDenied("未指明操作人，不能修改项目或规则。")


def _check_scope(user, region, *, system: bool) -> None:
    _check_actor(user, system)
    if user is None:  # system=True: the demo loader, management commands, Celery tasks
        return
    if not can_manage_rules(user, region):
        raise PermissionDenied(f"您无权管理“{region.name}”的补贴规则（仅省级、市级人员可在本辖区内设置规则）。")


def _snapshot(rule: SubsidyRule) -> dict:
    return {
        "name": rule.name,
        "region": rule.region_id,
        "kind": rule.kind,
        "amount": str(rule.amount) if rule.amount is not None else None,
        "tiers": rule.tiers,
        "months": rule.months,
        "channel": rule.channel,
        "alt_channel": rule.alt_channel,
        "conditions": rule.conditions,
        "valid_until": str(rule.valid_until) if rule.valid_until else None,
        "budget_cap": str(rule.budget_cap) if rule.budget_cap is not None else None,
        "exclusivity_group": rule.exclusivity_group,
        "priority": rule.priority,
        "status": rule.status,
        "version": rule.version,
    }


def _new_rule_key(programme: Programme, name: str) -> str:
    n = SubsidyRule.objects.filter(programme=programme).values("rule_key").distinct().count() + 1
    while SubsidyRule.objects.filter(programme=programme, rule_key=f"R{n:03d}").exists():
        n += 1
    return f"R{n:03d}"


@transaction.atomic
def rule_create(
    *, programme: Programme, data: dict, acting_user=None, system: bool = False, rule_key: str = ""
) -> SubsidyRule:
    """A new rule (version 1, draft)."""
    if programme.status == ProgrammeStatus.CLOSED:
        raise ConflictError("项目已结束，不能再添加规则。")
    clean = rule_validate(data, programme=programme)
    _check_scope(acting_user, clean["region"], system=system)
    rule_key = (rule_key or "").strip() or _new_rule_key(programme, clean["name"])
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,40}", rule_key):
        raise DomainError("规则编号只能包含字母、数字、下划线和连字符。", errors={"rule_key": "规则编号格式不正确。"})
    if SubsidyRule.objects.filter(programme=programme, rule_key=rule_key).exists():
        raise ConflictError(f"规则编号 {rule_key} 已存在。", errors={"rule_key": "规则编号已存在。"})
    rule = SubsidyRule.objects.create(
        programme=programme,
        rule_key=rule_key,
        version=1,
        status=RuleStatus.DRAFT,
        created_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
        **clean,
    )
    audit_record(user=acting_user, action="rule_create", obj=rule, changes=_snapshot(rule))
    return rule


@transaction.atomic
def rule_update(*, rule: SubsidyRule, data: dict, acting_user=None, system: bool = False) -> SubsidyRule:
    """Change a rule. In place while it has no entitlements; otherwise a new draft
    version with the changes (the old version keeps its entitlements). Returns the
    rule that now carries the changes."""
    rule = SubsidyRule.objects.select_for_update().get(pk=rule.pk)
    _check_scope(acting_user, rule.region, system=system)
    if rule.status in (RuleStatus.RETIRED, RuleStatus.SUPERSEDED):
        raise ConflictError("已停用或已被取代的规则版本不能修改。")
    latest = SubsidyRule.objects.filter(programme=rule.programme, rule_key=rule.rule_key).aggregate(v=Max("version"))[
        "v"
    ]
    if rule.version != latest:
        raise ConflictError(f"该规则已有更新的版本（第 {latest} 版），请修改最新版本。")
    merged = {f: getattr(rule, f) for f in RULE_FIELDS}
    merged.update({k: v for k, v in data.items() if k in RULE_FIELDS})
    clean = rule_validate(merged, programme=rule.programme)
    _check_scope(acting_user, clean["region"], system=system)
    before = _snapshot(rule)
    if rule.entitlements.exists():
        new = SubsidyRule.objects.create(
            programme=rule.programme,
            rule_key=rule.rule_key,
            version=rule.version + 1,
            status=RuleStatus.DRAFT,
            created_by=acting_user if acting_user is not None and acting_user.is_authenticated else None,
            **clean,
        )
        audit_record(
            user=acting_user,
            action="rule_new_version",
            obj=new,
            changes={"from": before, "to": _snapshot(new), "previous_id": rule.pk},
        )
        return new
    for name, value in clean.items():
        setattr(rule, name, value)
    rule.save(update_fields=list(clean))
    audit_record(user=acting_user, action="rule_update", obj=rule, changes={"from": before, "to": _snapshot(rule)})
    return rule


@transaction.atomic
def rule_activate(*, rule: SubsidyRule, acting_user=None, system: bool = False) -> SubsidyRule:
    """Put a draft version into force; the version it replaces becomes superseded."""
    rule = SubsidyRule.objects.select_for_update().get(pk=rule.pk)
    _check_scope(acting_user, rule.region, system=system)
    if rule.status == RuleStatus.ACTIVE:
        return rule
    if rule.status != RuleStatus.DRAFT:
        raise ConflictError("只有草稿状态的规则可以启用。")
    if rule.programme.status == ProgrammeStatus.CLOSED:
        raise ConflictError("项目已结束，不能启用规则。")
    rule_validate({f: getattr(rule, f) for f in RULE_FIELDS}, programme=rule.programme)
    # Lock the other versions of the key so two activations cannot both win; the
    # partial unique index rule_one_active_version backs this up.
    others = SubsidyRule.objects.select_for_update().filter(
        programme=rule.programme, rule_key=rule.rule_key, status=RuleStatus.ACTIVE
    )
    superseded = [o.pk for o in others]
    SubsidyRule.objects.filter(pk__in=superseded).update(status=RuleStatus.SUPERSEDED)
    rule.status, rule.activated_at = RuleStatus.ACTIVE, timezone.now()
    rule.save(update_fields=["status", "activated_at"])
    audit_record(user=acting_user, action="rule_activate", obj=rule, changes={"superseded": superseded})
    return rule


@transaction.atomic
def rule_retire(*, rule: SubsidyRule, acting_user=None, system: bool = False, comment: str = "") -> SubsidyRule:
    """Stop a rule. Its entitlements not yet in a batch are withdrawn by the next computation."""
    rule = SubsidyRule.objects.select_for_update().get(pk=rule.pk)
    _check_scope(acting_user, rule.region, system=system)
    if rule.status not in (RuleStatus.ACTIVE, RuleStatus.DRAFT):
        raise ConflictError("该规则版本已停用或已被取代。")
    before = rule.status
    rule.status = RuleStatus.RETIRED
    rule.save(update_fields=["status"])
    audit_record(user=acting_user, action="rule_retire", obj=rule, changes={"from": before}, comment=comment)
    return rule


PROGRAMME_FIELDS = (
    "name",
    "region",
    "start_date",
    "end_date",
    "holiday_start",
    "holiday_end",
    "registration_deadline",
    "budget",
    "status",
)


def _programme_validate(data: dict) -> None:
    errors = {}
    if data["start_date"] > data["end_date"]:
        errors["end_date"] = "结束日期不能早于开始日期。"
    if data["holiday_start"] > data["holiday_end"]:
        errors["holiday_end"] = "春节假期结束不能早于开始。"
    if not (data["start_date"] <= data["holiday_start"] and data["holiday_end"] <= data["end_date"]):
        errors["holiday_start"] = "春节假期须在项目期间内。"
    if not (data["start_date"] <= data["registration_deadline"] <= data["end_date"]):
        errors["registration_deadline"] = "登记截止日期须在项目期间内。"
    if data.get("budget") is not None and data["budget"] < 0:
        errors["budget"] = "预算不能为负数。"
    if errors:
        raise DomainError("项目填写有误，请按提示修改。", errors=errors)


def _check_programme_actor(user, system: bool, refusal: str) -> None:
    """Programmes are set up by province staff (and admins), or by the system."""
    _check_actor(user, system)
    if user is not None and not (is_admin(user) or user.role == Role.PROVINCE):
        raise PermissionDenied(refusal)


@transaction.atomic
def programme_create(*, code: str, data: dict, acting_user=None, system: bool = False) -> Programme:
    _check_programme_actor(acting_user, system, "只有省级人员可以设立项目。")
    _programme_validate(data)
    if Programme.objects.filter(code=code).exists():
        raise ConflictError(f"项目代码 {code} 已存在。")
    programme = Programme.objects.create(code=code, **{k: v for k, v in data.items() if k in PROGRAMME_FIELDS})
    audit_record(user=acting_user, action="programme_create", obj=programme, changes={"code": code})
    return programme


@transaction.atomic
def programme_update(*, programme: Programme, data: dict, acting_user=None, system: bool = False) -> Programme:
    _check_programme_actor(acting_user, system, "只有省级人员可以修改项目。")
    merged = {f: getattr(programme, f) for f in PROGRAMME_FIELDS}
    merged.update({k: v for k, v in data.items() if k in PROGRAMME_FIELDS})
    _programme_validate(merged)
    changes = {k: str(v) for k, v in data.items() if k in PROGRAMME_FIELDS and getattr(programme, k) != v}
    for k, v in merged.items():
        setattr(programme, k, v)
    programme.save(update_fields=list(PROGRAMME_FIELDS))
    audit_record(user=acting_user, action="programme_update", obj=programme, changes=changes)
    return programme
