"""The checks of a survey report's figures: formats, parts within their whole, and
jumps from the previous report.

A count that moves by more than SURVEY_JUMP_FACTOR (default 2: doubled or halved) from
the district's previous report is refused until the officer confirms it.
"""

import datetime
from decimal import Decimal

from django.conf import settings

from core.money import MoneyError, to_yuan
from programs.models import Programme, SurveyReport
from programs.surveys.fields import COUNT_FIELDS, JUMP_FIELDS, PART_RULES, label
from regions.models import Region


def jump_factor() -> Decimal:
    return Decimal(str(settings.SURVEY_JUMP_FACTOR))


def _clean_data(data: dict) -> tuple[dict, dict]:
    """Read the figures (ints and a Decimal amount); errors per field in Chinese."""
    clean, errors = {}, {}
    for field in COUNT_FIELDS:
        value = data.get(field, 0)
        if value in (None, ""):
            value = 0
        try:
            if isinstance(value, float) or isinstance(value, bool):
                raise ValueError
            number = int(str(value).strip().replace(",", ""))
        except ValueError:
            errors[field] = f"“{label(field)}”须为整数，请重新填写。"
            continue
        if number < 0:
            errors[field] = f"“{label(field)}”不能为负数，请填写 0 或正整数。"
            continue
        clean[field] = number
    value = data.get("benefits_amount", 0)
    try:
        amount = to_yuan(value if value not in (None, "") else 0)
        if amount < 0:
            errors["benefits_amount"] = f"“{label('benefits_amount')}”不能为负数。"
        else:
            clean["benefits_amount"] = amount
    except MoneyError:
        errors["benefits_amount"] = f"“{label('benefits_amount')}”须为金额（元，最多两位小数），请重新填写。"
    return clean, errors


def survey_validate(*, programme: Programme, as_of: datetime.date, data: dict) -> tuple[dict, dict]:
    """Return (clean figures, errors by field). Nothing negative, no part above its
    whole, the date inside the programme."""
    clean, errors = _clean_data(data)
    if as_of is None:
        errors["as_of"] = "请填写统计截止日期。"
    elif not (programme.start_date <= as_of <= programme.end_date):
        errors["as_of"] = (
            f"统计截止日期 {as_of:%Y-%m-%d} 不在项目期间（{programme.start_date:%Y-%m-%d} 至 "
            f"{programme.end_date:%Y-%m-%d}）内，请修改。"
        )
    for whole, parts in PART_RULES:
        if whole not in clean or any(p not in clean for p in parts):
            continue
        total = sum(clean[p] for p in parts)
        if total > clean[whole]:
            names = "＋".join(f"“{label(p)}”" for p in parts)
            errors.setdefault(
                parts[-1], f"{names}（{total}）超过了“{label(whole)}”（{clean[whole]}），分项之和不能大于总数。"
            )
    if clean.get("enterprises_with_benefits") == 0 and clean.get("benefits_amount", 0) > 0:
        errors.setdefault("enterprises_with_benefits", "填写了企业自发福利金额，请同时填写发放福利的企业数。")
    return clean, errors


def survey_previous(*, programme: Programme, district: Region, as_of: datetime.date, exclude_pk=None):
    qs = SurveyReport.objects.filter(programme=programme, district=district, as_of__lt=as_of)
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    return qs.order_by("-as_of").first()


def survey_jumps(*, programme: Programme, district: Region, as_of: datetime.date, clean: dict, exclude_pk=None) -> dict:
    """Fields that moved by more than the jump factor from the previous report."""
    previous = survey_previous(programme=programme, district=district, as_of=as_of, exclude_pk=exclude_pk)
    if previous is None:
        return {}
    factor = jump_factor()
    jumps = {}
    for field in JUMP_FIELDS:
        old, new = getattr(previous, field), clean.get(field, 0)
        if old <= 0 or new <= 0:
            continue
        if new > old * factor or new * factor < old:
            jumps[field] = (
                f"“{label(field)}”由上期（{previous.as_of:%Y-%m-%d}）的 {old} 变为 {new}，变化超过 {factor} 倍，"
                "请核实后勾选“确认数据无误”再保存。"
            )
    return jumps
