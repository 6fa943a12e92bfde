"""Compiling one rule to SQL over a registration and what it joins."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django.apps import apps
from django.db import connection

from core.money import to_yuan
from programs.choices import HukouScope
from programs.rules.regions import CityMembers, RegionIndex, region_index


def tables() -> dict[str, str]:
    get = apps.get_model
    return {
        "registration": get("beneficiaries", "Registration")._meta.db_table,
        "person": get("beneficiaries", "Person")._meta.db_table,
        "employer": get("beneficiaries", "Employer")._meta.db_table,
        "region": get("regions", "Region")._meta.db_table,
    }


def sql_in(values) -> tuple[str, list]:
    values = list(values)
    return ", ".join(["%s"] * len(values)), values


@dataclass
class CompiledRule:
    """A rule as SQL over `r` (registration), `p` (person), `e` (employer), `d` (stay region).

    `where`/`amount`/`reason` are fragments with %s placeholders and their params in
    order; `joins` names the tables the fragments need besides `r`.
    """

    where: str
    where_params: list
    amount: str
    amount_params: list
    reason: str
    reason_params: list
    joins: set[str]

    def from_clause(self) -> str:
        t = tables()
        sql = f"{t['registration']} r"
        if "p" in self.joins:
            sql += f" JOIN {t['person']} p ON p.id = r.person_id"
        if "e" in self.joins:
            sql += f" JOIN {t['employer']} e ON e.id = r.employer_id"
        if "d" in self.joins:
            sql += f" JOIN {t['region']} d ON d.code = r.district_id"
        return sql


def _json_object(pairs: list[tuple[str, str]]) -> str:
    fn = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    args = ", ".join(f"'{k}', {v}" for k, v in pairs)
    return f"{fn}({args})"


def _decimal_sql() -> str:
    return "CAST(%s AS NUMERIC(14,2))" if connection.vendor == "postgresql" else "CAST(%s AS NUMERIC)"


@dataclass
class _Filter:
    """The WHERE clause of a rule being compiled, its params, the reason's columns and the joins."""

    where: list[str]
    params: list
    reason: list[tuple[str, str]]
    joins: set[str] = field(default_factory=set)

    def add(self, sql: str, *params) -> None:
        self.where.append(sql)
        self.params += params


def rule_compile(
    rule, *, programme=None, regions: RegionIndex | None = None, district: str | None = None
) -> CompiledRule:
    """Compile one rule. With `district`, only that stay district is selected (the
    caller has checked it lies in the rule's region) and its codes become constants.

    The steps: the region scope, the hukou condition, the employer's conditions, the
    registration's conditions, then the amount (flat or by seniority tiers, times months).
    """
    programme = programme or rule.programme
    regions = regions or region_index()
    cond = rule.conditions or {}
    f = _Filter(
        where=["r.programme_id = %s", "r.status = 'active'"], params=[programme.pk], reason=[("stay", "r.district_id")]
    )
    _filter_region(f, rule, programme, regions, district)
    _filter_hukou(f, rule, cond.get("hukou_outside"), regions, district)
    _filter_employer(f, cond)
    _filter_registration(f, rule, programme, cond)
    amount, amount_params = _amount_sql(f, rule)
    return CompiledRule(
        where=" AND ".join(f.where),
        where_params=f.params,
        amount=amount,
        amount_params=amount_params,
        reason=_json_object(f.reason),
        reason_params=[],
        joins=f.joins,
    )


def _filter_region(f: _Filter, rule, programme, regions: RegionIndex, district: str | None) -> None:
    """Region scope: the rule covers stays in its region and below (clause: 适用区域)."""
    if district is not None:
        f.add("r.district_id = %s", district)
    elif rule.region_id != programme.region_id:
        marks, codes = sql_in(regions.districts_within(rule.region_id) or ["------"])
        f.add(f"r.district_id IN ({marks})", *codes)


def _filter_hukou(f: _Filter, rule, scope: str | None, regions: RegionIndex, district: str | None) -> None:
    """Hukou outside the stay's county, city or province (see the package docstring)."""
    if not scope:
        return
    f.joins.add("p")
    f.reason.append(("hukou", "p.hukou_code"))
    if scope == HukouScope.COUNTY:
        f.add("p.hukou_code <> r.district_id")
        return
    if scope == HukouScope.PROVINCE:
        f.add("substr(p.hukou_code, 1, 2) <> substr(r.district_id, 1, 2)")
        return
    city = regions.city_of(district) if district else None
    if city is None and regions.level[rule.region_id] in ("city", "district"):
        city = regions.city_of(rule.region_id) if regions.level[rule.region_id] == "district" else rule.region_id
    if city is not None:
        frag, frag_params = _city_contains_sql(regions.city_members(city))
        f.add(f"NOT ({frag})", *frag_params)
    else:
        # A province-wide rule: each stay's own city, from its path ("130000/130100/…").
        f.joins.add("d")
        frag, frag_params = _hukou_city_sql(regions)
        f.add(f"({frag}) <> substr(d.path, 8, 6)", *frag_params)


def _filter_employer(f: _Filter, cond: dict) -> None:
    """The employer's ownership, its credit code, and whether it has been verified."""
    if cond.get("ownership_in"):
        f.joins.add("e")
        marks, values = sql_in(cond["ownership_in"])
        f.add(f"e.ownership IN ({marks})", *values)
        f.reason.append(("ownership", "e.ownership"))
    if cond.get("employer_codes"):
        f.joins.add("e")
        marks, values = sql_in(cond["employer_codes"])
        f.add(f"e.credit_code IN ({marks})", *values)
        f.reason.append(("employer", "e.credit_code"))
    if cond.get("employer_verified", True):
        f.joins.add("e")
        f.add("e.status = 'verified'")


def _filter_registration(f: _Filter, rule, programme, cond: dict) -> None:
    """The registration's category, days on duty, stay through the holiday, and the validity."""
    if cond.get("category_in"):
        marks, values = sql_in(cond["category_in"])
        f.add(f"r.category IN ({marks})", *values)
        f.reason.append(("category", "r.category"))
    if cond.get("on_duty_min_days"):
        f.add("r.duty_days >= %s", int(cond["on_duty_min_days"]))
        f.reason.append(("duty_days", "r.duty_days"))
    if cond.get("stayed_through_holiday"):
        f.add("r.start_date <= %s AND r.end_date >= %s", programme.holiday_start, programme.holiday_end)
        f.reason += [("stay_from", "r.start_date"), ("stay_to", "r.end_date")]
    if rule.valid_until:
        # A voucher is no use to someone whose stay starts after it expires.
        f.add("r.start_date <= %s", rule.valid_until)
        if not cond.get("stayed_through_holiday"):
            f.reason.append(("stay_from", "r.start_date"))


def _amount_sql(f: _Filter, rule) -> tuple[str, list]:
    """The amount times months: flat, or by seniority tiers (which also require the lowest tier)."""
    months = int(rule.months or 1)
    if not rule.tiers:
        return _decimal_sql(), [to_yuan(Decimal(rule.amount or 0) * months)]
    tiers = sorted(rule.tiers, key=lambda t: -int(t["min_years"]))
    f.add("r.seniority_years >= %s", int(tiers[-1]["min_years"]))
    whens = " ".join(f"WHEN r.seniority_years >= %s THEN {_decimal_sql()}" for _ in tiers)
    amount_params: list = []
    for t in tiers:
        amount_params += [int(t["min_years"]), to_yuan(Decimal(t["amount"]) * months)]
    f.reason.append(("seniority_years", "r.seniority_years"))
    return f"CASE {whens} END", amount_params


def _city_contains_sql(m: CityMembers, col: str = "p.hukou_code") -> tuple[str, list]:
    parts, params = [], []
    if m.prefix:
        part = f"substr({col}, 1, 4) = %s"
        params.append(m.prefix)
        if m.exclude:
            marks, values = sql_in(m.exclude)
            part += f" AND {col} NOT IN ({marks})"
            params += values
        parts.append(f"({part})")
    if m.include:
        marks, values = sql_in(m.include)
        parts.append(f"{col} IN ({marks})")
        params += values
    return (" OR ".join(parts) or "1 = 0"), params


def _hukou_city_sql(regions: RegionIndex, col: str = "p.hukou_code") -> tuple[str, list]:
    """SQL for the reporting city of a hukou code: its prefix + '00' except where the
    tree says otherwise (辛集, 定州, 雄安's counties)."""
    special: dict[str, list[str]] = {}
    for code, level in regions.level.items():
        if level == "district" and regions.kind[code] == "official":
            city = regions.city_of(code)
            if city != code[:4] + "00":
                special.setdefault(city, []).append(code)
    whens, params = [], []
    for city, codes in sorted(special.items()):
        marks, values = sql_in(sorted(codes))
        whens.append(f"WHEN {col} IN ({marks}) THEN %s")
        params += [*values, city]
    return f"CASE {' '.join(whens)} ELSE substr({col}, 1, 4) || '00' END", params
