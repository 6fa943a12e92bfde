"""The oracle: a rule evaluated in Python for one registration's facts.

The property-based tests compare it with the SQL that rules.compile builds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.money import to_yuan
from programs.rules.regions import RegionIndex, hukou_outside, region_index


@dataclass
class Facts:
    """What a rule looks at for one registration (for rule_evaluate)."""

    district: str
    hukou: str
    ownership: str
    employer_status: str
    credit_code: str
    category: str
    duty_days: int
    seniority_years: int
    start_date: date
    end_date: date
    status: str = "active"


def rule_evaluate(rule, facts: Facts, *, programme=None, regions: RegionIndex | None = None) -> Decimal | None:
    """The amount `rule` grants for these facts, or None. Ignores caps and exclusivity."""
    programme = programme or rule.programme
    regions = regions or region_index()
    cond = rule.conditions or {}
    if facts.status != "active" or not regions.path[facts.district].startswith(regions.path[rule.region_id]):
        return None
    if cond.get("hukou_outside") and not hukou_outside(cond["hukou_outside"], facts.hukou, facts.district, regions):
        return None
    if cond.get("ownership_in") and facts.ownership not in cond["ownership_in"]:
        return None
    if cond.get("employer_codes") and facts.credit_code not in cond["employer_codes"]:
        return None
    if cond.get("employer_verified", True) and facts.employer_status != "verified":
        return None
    if cond.get("category_in") and facts.category not in cond["category_in"]:
        return None
    if cond.get("on_duty_min_days") and facts.duty_days < int(cond["on_duty_min_days"]):
        return None
    if cond.get("stayed_through_holiday") and not (
        facts.start_date <= programme.holiday_start and facts.end_date >= programme.holiday_end
    ):
        return None
    if rule.valid_until and facts.start_date > rule.valid_until:
        return None
    months = int(rule.months or 1)
    if rule.tiers:
        for t in sorted(rule.tiers, key=lambda t: -int(t["min_years"])):
            if facts.seniority_years >= int(t["min_years"]):
                return to_yuan(Decimal(t["amount"]) * months)
        return None
    return to_yuan(Decimal(rule.amount or 0) * months)
