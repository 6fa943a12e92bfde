"""What a rule's `conditions` may say: the vocabularies, their check, and their words."""

from __future__ import annotations

import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from programs.choices import HukouScope, RuleKind

# Labels are lazy translations: pages show them in the page's language (the catalog
# already has them, as beneficiaries' choices use the same words).
OWNERSHIPS = {
    "state": _("国有"),
    "collective": _("集体"),
    "private": _("私营/非公"),
    "individual": _("个体工商户"),
    "foreign": _("外资"),
    "construction": _("施工项目"),
    "other": _("其他"),
}
CATEGORIES = {"migrant": _("外来务工人员"), "hardship": _("困难群众"), "unemployed": _("失业人员")}
CONDITION_KEYS = {
    "hukou_outside",
    "ownership_in",
    "category_in",
    "on_duty_min_days",
    "stayed_through_holiday",
    "employer_verified",
    "employer_codes",
}
USCC_RE = re.compile(r"^[0-9A-HJ-NP-RTUWXY]{2}\d{6}[0-9A-HJ-NP-RTUWXY]{10}$")


def conditions_validate(raw: dict, *, programme, kind: str = "") -> tuple[dict, dict]:
    """Normalize `conditions`; return (conditions, errors). Unknown keys are errors."""
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        return {}, {"conditions": "条件格式不正确。"}
    unknown = set(raw) - CONDITION_KEYS
    if unknown:
        errors["conditions"] = f"不认识的条件：{'、'.join(sorted(unknown))}。"
    c: dict = {}
    hukou = raw.get("hukou_outside") or ""
    if hukou:
        if hukou not in HukouScope.values:
            errors["hukou_outside"] = "户籍条件只能是：本县（区）以外、本市以外、本省以外。"
        c["hukou_outside"] = hukou
    for key, vocab, label in (("ownership_in", OWNERSHIPS, "经济类型"), ("category_in", CATEGORIES, "人员类别")):
        values = raw.get(key) or []
        if isinstance(values, str):
            values = [values]
        bad = [v for v in values if v not in vocab]
        if bad:
            errors[key] = f"{label}不正确：{'、'.join(map(str, bad))}。"
        if values:
            c[key] = sorted(set(values))
    duty = raw.get("on_duty_min_days")
    if duty not in (None, "", 0, "0"):
        holiday_days = (programme.holiday_end - programme.holiday_start).days + 1
        try:
            duty = int(duty)
        except (TypeError, ValueError):
            errors["on_duty_min_days"] = "春节在岗天数须为整数。"
        else:
            if duty < 0 or duty > holiday_days:
                errors["on_duty_min_days"] = (
                    f"春节在岗天数须在 1 到 {holiday_days} 天之间（假期共 {holiday_days} 天）。"
                )
            else:
                c["on_duty_min_days"] = duty
    if raw.get("stayed_through_holiday"):
        c["stayed_through_holiday"] = True
    verified = raw.get("employer_verified", True)
    c["employer_verified"] = verified not in (False, "false", "0", 0)
    codes = raw.get("employer_codes") or []
    if isinstance(codes, str):
        codes = [x for x in re.split(r"[\s,，;；]+", codes) if x]
    codes = [str(x).strip().upper() for x in codes]
    bad_codes = [x for x in codes if not USCC_RE.match(x)]
    if bad_codes:
        errors["employer_codes"] = f"统一社会信用代码格式不正确：{'、'.join(bad_codes)}。"
    if codes:
        c["employer_codes"] = sorted(set(codes))
    if kind == RuleKind.EMPLOYER_FUNDED and not codes:
        errors["employer_codes"] = "企业自发的福利须写明是哪家（或哪些）企业发放。"
    if c.get("category_in") == ["hardship"] and c.get("on_duty_min_days"):
        errors["on_duty_min_days"] = "困难群众慰问金不以春节在岗为条件，请删去在岗天数。"
    return c, errors


def describe_conditions(rule) -> list[str]:
    """The conditions in words, for the rule pages, in the active language."""
    c = rule.conditions or {}
    out = []
    sep = gettext("、")
    if c.get("hukou_outside"):
        out.append(str(HukouScope(c["hukou_outside"]).label))
    if c.get("ownership_in"):
        out.append(
            gettext("经济类型：%(values)s") % {"values": sep.join(str(OWNERSHIPS.get(v, v)) for v in c["ownership_in"])}
        )
    if c.get("category_in"):
        out.append(
            gettext("人员类别：%(values)s") % {"values": sep.join(str(CATEGORIES.get(v, v)) for v in c["category_in"])}
        )
    if c.get("on_duty_min_days"):
        out.append(gettext("春节期间在岗不少于 %(days)s 天") % {"days": c["on_duty_min_days"]})
    if c.get("stayed_through_holiday"):
        out.append(gettext("春节假期全程留岗"))
    if c.get("employer_codes"):
        out.append(gettext("限定企业：%(values)s") % {"values": sep.join(c["employer_codes"])})
    if c.get("employer_verified", True):
        out.append(gettext("用人单位已核实"))
    if rule.valid_until:
        out.append(gettext("有效期至 %(date)s") % {"date": str(rule.valid_until)})
    return out
