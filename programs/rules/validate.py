"""Checking a rule's data against its programme (the conditions: rules.conditions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from core.errors import DomainError
from core.money import MoneyError, to_yuan
from programs.choices import Channel, RuleKind
from programs.rules.conditions import conditions_validate


def _money(value, field_name: str, label: str, errors: dict) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = to_yuan(value)
    except MoneyError as exc:
        errors[field_name] = f"{label}：{exc}"
        return None
    if amount < 0:
        errors[field_name] = f"{label}不能为负数。"
        return None
    return amount


def rule_validate(data: dict, *, programme) -> dict:
    """Check and normalize a rule's data; raise DomainError with `errors` {field: message}.

    `data` has the SubsidyRule fields: name, region (a Region), kind, amount, tiers,
    months, channel, alt_channel, conditions, valid_until, budget_cap, exclusivity_group, priority,
    description. Returns the cleaned dict (amounts as Decimal, conditions normalized).
    The steps: what and where, the channels, the amount (or tiers) and months, the
    validity, the budget and ranking, the conditions.
    """
    errors: dict[str, str] = {}
    out: dict = {}
    _check_what_and_where(data, programme, out, errors)
    _check_channels(data, out, errors)
    _check_amounts(data, out, errors)
    _check_validity(data, programme, out, errors)
    _check_budget_and_rank(data, out, errors)
    conditions, cond_errors = conditions_validate(data.get("conditions") or {}, programme=programme, kind=out["kind"])
    errors.update(cond_errors)
    out["conditions"] = conditions
    if errors:
        raise DomainError("规则填写有误，请按提示修改。", errors=errors)
    return out


def _check_what_and_where(data: dict, programme, out: dict, errors: dict) -> None:
    """The name, the region (inside the programme's) and the kind."""
    out["name"] = (data.get("name") or "").strip()
    if not out["name"]:
        errors["name"] = "请填写规则名称。"
    region = data.get("region")
    if region is None:
        errors["region"] = "请选择适用区域。"
    elif not region.path.startswith(programme.region.path):
        errors["region"] = f"适用区域“{region.name}”不在项目实施区域“{programme.region.name}”内。"
    out["region"] = region
    kind = data.get("kind") or ""
    if kind not in RuleKind.values:
        errors["kind"] = "请选择补贴类型。"
    out["kind"] = kind


def _check_channels(data: dict, out: dict, errors: dict) -> None:
    """The payment channel fitting the kind, and the optional second one."""
    kind = out["kind"]
    channel = data.get("channel") or (Channel.EMPLOYER if kind == RuleKind.EMPLOYER_FUNDED else Channel.BANK_CARD)
    if channel not in Channel.values:
        errors["channel"] = "请选择发放渠道。"
    elif kind == RuleKind.EMPLOYER_FUNDED and channel != Channel.EMPLOYER:
        errors["channel"] = "企业自发的福利不经财政发放，发放渠道须为“企业自发”。"
    elif kind != RuleKind.EMPLOYER_FUNDED and channel == Channel.EMPLOYER:
        errors["channel"] = "只有“企业自发”类型的规则才能使用“企业自发”渠道。"
    elif kind == RuleKind.VOUCHER and channel != Channel.E_VOUCHER:
        errors["channel"] = "消费券须通过“电子消费券”渠道发放。"
    out["channel"] = channel
    # The second channel a worker may choose ("电子红包或现金"): paid by the programme, not
    # the first one again, and never for vouchers or employer-funded benefits.
    alt = data.get("alt_channel") or ""
    if alt:
        if alt not in Channel.values or alt in (Channel.EMPLOYER, Channel.E_VOUCHER):
            errors["alt_channel"] = "可选发放渠道只能是银行卡、社保卡、电子红包或现金。"
        elif alt == channel:
            errors["alt_channel"] = "可选发放渠道应与发放渠道不同（不提供选择时请留空）。"
        elif kind in (RuleKind.EMPLOYER_FUNDED, RuleKind.VOUCHER):
            errors["alt_channel"] = "消费券和企业自发的福利不提供可选发放渠道。"
    out["alt_channel"] = alt


def _check_amounts(data: dict, out: dict, errors: dict) -> None:
    """One amount or seniority tiers (not both), and the months (only a monthly allowance has several)."""
    amount = _money(data.get("amount"), "amount", "金额", errors)
    tiers = _tiers(data.get("tiers") or [], errors)
    if amount is None and not tiers and "amount" not in errors and "tiers" not in errors:
        errors["amount"] = "请填写金额，或填写按工龄的档次。"
    if amount is not None and tiers:
        errors["amount"] = "金额与工龄档次只能填写一种。"
    out["amount"], out["tiers"] = amount, tiers

    try:
        months = int(data.get("months") or 1)
    except (TypeError, ValueError):
        months, errors["months"] = 1, "发放月数须为整数。"
    if months < 1 or months > 24:
        errors["months"] = "发放月数须在 1 到 24 之间。"
    elif out["kind"] != RuleKind.MONTHLY and months != 1:
        errors["months"] = "只有按月发放的补助金可以设置多个月。"
    out["months"] = months


def _tiers(tiers_raw, errors: dict) -> list[dict]:
    """Seniority tiers, sorted by their minimum years; the first bad tier is the error."""
    tiers: list[dict] = []
    if not isinstance(tiers_raw, list):
        errors["tiers"] = "工龄档次格式不正确。"
        return tiers
    seen: set[int] = set()
    for i, tier in enumerate(tiers_raw, start=1):
        try:
            years = int(tier.get("min_years"))
        except (TypeError, ValueError, AttributeError):
            errors["tiers"] = f"第{i}档：最低工龄须为整数。"
            break
        if years < 0:
            errors["tiers"] = f"第{i}档：最低工龄不能为负数。"
            break
        if years in seen:
            errors["tiers"] = f"第{i}档：最低工龄 {years} 年重复。"
            break
        seen.add(years)
        tier_amount = _money(tier.get("amount"), "tiers", f"第{i}档金额", errors)
        if tier_amount is None:
            errors.setdefault("tiers", f"第{i}档：请填写金额。")
            break
        tiers.append({"min_years": years, "amount": str(tier_amount)})
    tiers.sort(key=lambda t: t["min_years"])
    return tiers


def _check_validity(data: dict, programme, out: dict, errors: dict) -> None:
    """valid_until: required for vouchers, inside the programme and not before the holiday ends."""
    valid_until = data.get("valid_until") or None
    if isinstance(valid_until, str):
        try:
            valid_until = date.fromisoformat(valid_until)
        except ValueError:
            errors["valid_until"] = "有效期格式应为 YYYY-MM-DD。"
            valid_until = None
    if out["kind"] == RuleKind.VOUCHER and valid_until is None and "valid_until" not in errors:
        errors["valid_until"] = "消费券须填写有效期。"
    if valid_until is not None and not (programme.start_date <= valid_until <= programme.end_date):
        errors["valid_until"] = f"有效期须在项目期间内（{programme.start_date} 至 {programme.end_date}）。"
    elif valid_until is not None and valid_until < programme.holiday_end:
        errors["valid_until"] = f"有效期不能早于春节假期结束（{programme.holiday_end}）。"
    out["valid_until"] = valid_until


def _check_budget_and_rank(data: dict, out: dict, errors: dict) -> None:
    """The budget cap (at least one person's amount), the exclusivity group, the priority, the description."""
    amount, tiers, months = out["amount"], out["tiers"], out["months"]
    cap = _money(data.get("budget_cap"), "budget_cap", "预算上限", errors)
    smallest = amount if amount is not None else min((Decimal(t["amount"]) for t in tiers), default=None)
    if cap is not None and smallest is not None and cap < smallest * months:
        errors["budget_cap"] = f"预算上限 {cap} 元低于一人的金额 {smallest * months} 元，规则不会发放任何补贴。"
    out["budget_cap"] = cap
    group = (data.get("exclusivity_group") or "").strip()
    if len(group) > 40:
        errors["exclusivity_group"] = "互斥组名称不超过 40 个字符。"
    out["exclusivity_group"] = group
    try:
        out["priority"] = int(data.get("priority") if data.get("priority") not in (None, "") else 100)
    except (TypeError, ValueError):
        errors["priority"] = "优先级须为整数。"
    out["description"] = (data.get("description") or "").strip()
