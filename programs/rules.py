"""The rule engine's language: what a SubsidyRule may say, and how it becomes SQL.

A rule's `conditions` are structured data (see SubsidyRule's docstring). This module

* validates a rule's data against its programme (`rule_validate`), with Chinese
  messages per field;
* compiles a rule to a SQL fragment over a registration `r` joined with its person
  `p`, its employer `e` and its stay region `d` (`rule_compile`): a WHERE clause, the
  amount expression and the "why" (reason) expression. The computation in
  disbursements.entitlements runs these set-based (INSERT … SELECT), never per worker;
* evaluates the same rule in Python for one registration (`rule_evaluate`): the
  independent oracle the property-based tests compare the SQL with.

Hukou "outside" is relative to the stay district, along the *reporting* tree
(regions.Region): outside the county = the hukou code differs from the stay district's
code (a functional zone such as 130172 issues no hukou, so everybody staying there is
outside the county); outside the city = the hukou belongs to another reporting city,
where a city's hukou codes are its 4-digit prefix (130172 → 1301) minus the codes that
report elsewhere (辛集 130181 and 定州 130682 report straight to the province and are
their own city; 容城/安新/雄县 belong to 雄安新区 133100); outside the province = another
2-digit prefix. `Person.hukou_code` is already the *current* code (an old 鹿泉市 130185
number counts as 130110), so a prefix comparison is enough.

This app sits below beneficiaries and may not import it: the tables of Registration,
Person and Employer are looked up through the app registry, and the vocabularies of
ownership and category are repeated here (a test checks they match beneficiaries.choices).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

from django.apps import apps
from django.db import connection
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from core.errors import DomainError
from core.money import MoneyError, to_yuan
from programs.choices import Channel, HukouScope, RuleKind

# Mirrors beneficiaries.choices.Ownership / Category (checked by a test).
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


# --------------------------------------------------------------------------- validation


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
    """
    errors: dict[str, str] = {}
    out: dict = {}
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

    amount = _money(data.get("amount"), "amount", "金额", errors)
    tiers_raw = data.get("tiers") or []
    tiers: list[dict] = []
    if not isinstance(tiers_raw, list):
        errors["tiers"] = "工龄档次格式不正确。"
    else:
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
    elif kind != RuleKind.MONTHLY and months != 1:
        errors["months"] = "只有按月发放的补助金可以设置多个月。"
    out["months"] = months

    valid_until = data.get("valid_until") or None
    if isinstance(valid_until, str):
        try:
            valid_until = date.fromisoformat(valid_until)
        except ValueError:
            errors["valid_until"] = "有效期格式应为 YYYY-MM-DD。"
            valid_until = None
    if kind == RuleKind.VOUCHER and valid_until is None and "valid_until" not in errors:
        errors["valid_until"] = "消费券须填写有效期。"
    if valid_until is not None and not (programme.start_date <= valid_until <= programme.end_date):
        errors["valid_until"] = f"有效期须在项目期间内（{programme.start_date} 至 {programme.end_date}）。"
    elif valid_until is not None and valid_until < programme.holiday_end:
        errors["valid_until"] = f"有效期不能早于春节假期结束（{programme.holiday_end}）。"
    out["valid_until"] = valid_until

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

    conditions, cond_errors = conditions_validate(data.get("conditions") or {}, programme=programme, kind=kind)
    errors.update(cond_errors)
    out["conditions"] = conditions
    if errors:
        raise DomainError("规则填写有误，请按提示修改。", errors=errors)
    return out


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


# --------------------------------------------------------------------------- regions


@dataclass(frozen=True)
class CityMembers:
    """The hukou codes that count as "inside" a reporting city."""

    prefix: str | None  # 4 digits, or None when the city is not an official city code
    include: tuple[str, ...]  # codes inside although outside the prefix (雄安's counties)
    exclude: tuple[str, ...]  # codes under the prefix that report elsewhere (辛集, 定州 …)

    def contains(self, hukou: str) -> bool:
        if hukou in self.include:
            return True
        return bool(self.prefix) and hukou.startswith(self.prefix) and hukou not in self.exclude


@dataclass
class RegionIndex:
    """A snapshot of the region tree for compiling rules (small: about 200 rows)."""

    path: dict[str, str] = field(default_factory=dict)
    level: dict[str, str] = field(default_factory=dict)
    kind: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls) -> RegionIndex:
        idx = cls()
        Region = apps.get_model("regions", "Region")
        for code, path, level, kind in Region.objects.values_list("code", "path", "level", "kind"):
            idx.path[code], idx.level[code], idx.kind[code] = path, level, kind
        return idx

    def city_of(self, code: str) -> str | None:
        """The reporting city of a region: the second element of its path."""
        parts = self.path[code].strip("/").split("/")
        return parts[1] if len(parts) > 1 else None

    def districts_within(self, code: str) -> list[str]:
        prefix = self.path[code]
        return sorted(c for c, p in self.path.items() if p.startswith(prefix) and self.level[c] == "district")

    def city_members(self, city: str) -> CityMembers:
        official = [
            c
            for c, p in self.path.items()
            if self.level[c] == "district" and self.kind[c] == "official" and p.startswith(self.path[city])
        ]
        if self.level[city] == "city" and self.kind[city] == "official":
            prefix = city[:4]
            elsewhere = [
                c
                for c, p in self.path.items()
                if c.startswith(prefix) and self.kind[c] == "official" and not p.startswith(self.path[city])
            ]
            inside = [c for c in official if not c.startswith(prefix)]
            return CityMembers(prefix, tuple(sorted(inside)), tuple(sorted(elsewhere)))
        return CityMembers(None, tuple(sorted(official)), ())


@lru_cache(maxsize=1)
def _region_index_cached(_key: int) -> RegionIndex:
    return RegionIndex.load()


def region_index() -> RegionIndex:
    """The region snapshot; reloaded when the number of regions changes (tests load them)."""
    Region = apps.get_model("regions", "Region")
    return _region_index_cached(Region.objects.count())


def hukou_outside(scope: str, hukou: str, stay_district: str, regions: RegionIndex) -> bool:
    """Python form of the hukou condition (the oracle for the SQL)."""
    if scope == HukouScope.COUNTY:
        return hukou != stay_district
    if scope == HukouScope.PROVINCE:
        return hukou[:2] != stay_district[:2]
    return not regions.city_members(regions.city_of(stay_district)).contains(hukou)


# --------------------------------------------------------------------------- compiling


def tables() -> dict[str, str]:
    get = apps.get_model
    return {
        "registration": get("beneficiaries", "Registration")._meta.db_table,
        "person": get("beneficiaries", "Person")._meta.db_table,
        "employer": get("beneficiaries", "Employer")._meta.db_table,
        "region": get("regions", "Region")._meta.db_table,
    }


def _in(values) -> tuple[str, list]:
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


def rule_compile(
    rule, *, programme=None, regions: RegionIndex | None = None, district: str | None = None
) -> CompiledRule:
    """Compile one rule. With `district`, only that stay district is selected (the
    caller has checked it lies in the rule's region) and its codes become constants."""
    programme = programme or rule.programme
    regions = regions or region_index()
    cond = rule.conditions or {}
    joins: set[str] = set()
    where: list[str] = ["r.programme_id = %s", "r.status = 'active'"]
    params: list = [programme.pk]
    reason: list[tuple[str, str]] = [("stay", "r.district_id")]

    # Region scope: the rule covers stays in its region and below (clause: 适用区域).
    if district is not None:
        where.append("r.district_id = %s")
        params.append(district)
    elif rule.region_id != programme.region_id:
        marks, codes = _in(regions.districts_within(rule.region_id) or ["------"])
        where.append(f"r.district_id IN ({marks})")
        params += codes

    scope = cond.get("hukou_outside")
    if scope:
        joins.add("p")
        reason.append(("hukou", "p.hukou_code"))
        if scope == HukouScope.COUNTY:
            where.append("p.hukou_code <> r.district_id")
        elif scope == HukouScope.PROVINCE:
            where.append("substr(p.hukou_code, 1, 2) <> substr(r.district_id, 1, 2)")
        else:
            city = regions.city_of(district) if district else None
            if city is None and regions.level[rule.region_id] in ("city", "district"):
                city = (
                    regions.city_of(rule.region_id) if regions.level[rule.region_id] == "district" else rule.region_id
                )
            if city is not None:
                frag, frag_params = _city_contains_sql(regions.city_members(city))
                where.append(f"NOT ({frag})")
                params += frag_params
            else:
                # A province-wide rule: each stay's own city, from its path ("130000/130100/…").
                joins.add("d")
                frag, frag_params = _hukou_city_sql(regions)
                where.append(f"({frag}) <> substr(d.path, 8, 6)")
                params += frag_params
    if cond.get("ownership_in"):
        joins.add("e")
        marks, values = _in(cond["ownership_in"])
        where.append(f"e.ownership IN ({marks})")
        params += values
        reason.append(("ownership", "e.ownership"))
    if cond.get("employer_codes"):
        joins.add("e")
        marks, values = _in(cond["employer_codes"])
        where.append(f"e.credit_code IN ({marks})")
        params += values
        reason.append(("employer", "e.credit_code"))
    if cond.get("employer_verified", True):
        joins.add("e")
        where.append("e.status = 'verified'")
    if cond.get("category_in"):
        marks, values = _in(cond["category_in"])
        where.append(f"r.category IN ({marks})")
        params += values
        reason.append(("category", "r.category"))
    if cond.get("on_duty_min_days"):
        where.append("r.duty_days >= %s")
        params.append(int(cond["on_duty_min_days"]))
        reason.append(("duty_days", "r.duty_days"))
    if cond.get("stayed_through_holiday"):
        where.append("r.start_date <= %s AND r.end_date >= %s")
        params += [programme.holiday_start, programme.holiday_end]
        reason += [("stay_from", "r.start_date"), ("stay_to", "r.end_date")]
    if rule.valid_until:
        # A voucher is no use to someone whose stay starts after it expires.
        where.append("r.start_date <= %s")
        params.append(rule.valid_until)
        if not cond.get("stayed_through_holiday"):
            reason.append(("stay_from", "r.start_date"))

    months = int(rule.months or 1)
    if rule.tiers:
        tiers = sorted(rule.tiers, key=lambda t: -int(t["min_years"]))
        where.append("r.seniority_years >= %s")
        params.append(int(tiers[-1]["min_years"]))
        whens = " ".join(f"WHEN r.seniority_years >= %s THEN {_decimal_sql()}" for _ in tiers)
        amount = f"CASE {whens} END"
        amount_params: list = []
        for t in tiers:
            amount_params += [int(t["min_years"]), to_yuan(Decimal(t["amount"]) * months)]
        reason.append(("seniority_years", "r.seniority_years"))
    else:
        amount = _decimal_sql()
        amount_params = [to_yuan(Decimal(rule.amount or 0) * months)]
    return CompiledRule(
        where=" AND ".join(where),
        where_params=params,
        amount=amount,
        amount_params=amount_params,
        reason=_json_object(reason),
        reason_params=[],
        joins=joins,
    )


def _city_contains_sql(m: CityMembers, col: str = "p.hukou_code") -> tuple[str, list]:
    parts, params = [], []
    if m.prefix:
        part = f"substr({col}, 1, 4) = %s"
        params.append(m.prefix)
        if m.exclude:
            marks, values = _in(m.exclude)
            part += f" AND {col} NOT IN ({marks})"
            params += values
        parts.append(f"({part})")
    if m.include:
        marks, values = _in(m.include)
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
        marks, values = _in(sorted(codes))
        whens.append(f"WHEN {col} IN ({marks}) THEN %s")
        params += [*values, city]
    return f"CASE {' '.join(whens)} ELSE substr({col}, 1, 4) || '00' END", params


# --------------------------------------------------------------------------- the oracle


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


# --------------------------------------------------------------------------- granting

GRANT_COLUMNS = "programme_id, rule_id, rule_key, person_id, registration_id, district_id, channel, amount, reason"


def capped_groups(rules) -> set[str]:
    """The exclusivity groups (a lone capped rule is its own group "#<id>") in which a
    budget cap can turn a person away, so that who gets what depends on other people."""
    return {r.exclusivity_group or f"#{r.pk}" for r in rules if r.budget_cap is not None}


def rules_for_district(rules, applicable) -> list:
    """The rules a district's computation needs: those applicable to it, and every rule
    of a capped exclusivity group one of them belongs to. A cap in such a group is
    shared with people elsewhere whose choice depends on the group's other rules (a
    person who gets a better rule of the group in another district does not use up
    the cap here), even rules that do not cover this district."""
    ids = {r.pk for r in applicable}
    groups = {r.exclusivity_group for r in applicable if r.exclusivity_group} & capped_groups(rules)
    return [r for r in rules if r.pk in ids or (r.exclusivity_group and r.exclusivity_group in groups)]


def grants_sql(
    programme, rules, regions: RegionIndex, district: str | None, *, refused: bool = False
) -> list[tuple[str, list]]:
    """SELECT statements giving the entitlement rows (GRANT_COLUMNS) that `rules` grant,
    for one stay district or (None) all of them. The one implementation of what a set
    of rules grants: the computation inserts these rows, the preview counts them.

    Rules in no exclusivity group and without a cap are plain selects. The others go
    through one statement (`_allocation_sql`): in each group a person gets their best
    rule, or when a budget cap turns them away the next best, in rounds. A capped rule
    (and every rule sharing a group with one) is selected over its whole region,
    because the cap counts across districts, and filtered to the district afterwards.

    `refused=True` gives instead the people a budget cap turned away (预算已用完): those
    who qualify for a rule of a capped group and got no rule of it at all, as rows of
    their first choice (GRANT_COLUMNS). The same statement, so the same order.
    """
    statements: list[tuple[str, list]] = []
    capped = capped_groups(rules)
    wparts: list[tuple[str, list]] = []
    group_sizes: dict[str, int] = {}
    for rule in rules:
        group = rule.exclusivity_group or f"#{rule.pk}"
        is_windowed = bool(rule.exclusivity_group) or rule.budget_cap is not None
        is_global = group in capped
        compiled = rule_compile(rule, programme=programme, regions=regions, district=None if is_global else district)
        if is_windowed:
            compiled.joins.add("e")
        channel_sql, channel_params = _channel_sql(rule)
        head = (
            "SELECT %s AS programme_id, %s AS rule_id, %s AS rule_key, r.person_id AS person_id,"
            f" r.id AS registration_id, r.district_id AS district_id, {channel_sql} AS channel,"
            f" {compiled.amount} AS amount, {compiled.reason} AS reason"
        )
        params = [
            programme.pk,
            rule.pk,
            rule.rule_key,
            *channel_params,
            *compiled.amount_params,
            *compiled.reason_params,
        ]
        if not is_windowed:
            if refused:
                continue
            sql = f"{head} FROM {compiled.from_clause()} WHERE {compiled.where}"
            statements.append((sql, params + compiled.where_params))
            continue
        cap_fen = int(rule.budget_cap * 100) if rule.budget_cap is not None else None
        group_sizes[group] = group_sizes.get(group, 0) + 1
        sql = (
            f"{head}, CAST(%s AS TEXT) AS grp, %s AS prio, CAST(%s AS BIGINT) AS cap_fen,"
            " CASE WHEN e.verified_at IS NOT NULL AND e.verified_at > r.created_at"
            " THEN e.verified_at ELSE r.created_at END AS vkey"
            f" FROM {compiled.from_clause()} WHERE {compiled.where}"
        )
        wparts.append((sql, [*params, group, rule.priority, cap_fen, *compiled.where_params]))
    if wparts:
        # Only a cap turns anybody away: without one, everybody's first choice is final.
        rounds = max((size for g, size in group_sizes.items() if g in capped), default=1)
        union = " UNION ALL ".join(s for s, _ in wparts)
        params = [p for _, ps in wparts for p in ps]
        sql, tail_params = _allocation_sql(union, rounds, district, refused=refused)
        statements.append((sql, params + tail_params))
    return statements


def _channel_sql(rule) -> tuple[str, list]:
    """The channel a granted row is paid through: the rule's, or — where the rule offers a
    second one ("800元的电子红包或现金补贴") — the registration's choice if it names either."""
    if not rule.alt_channel:
        return "%s", [rule.channel]
    return (
        "CASE WHEN r.payout_choice IN (%s, %s) THEN r.payout_choice ELSE %s END",
        [rule.channel, rule.alt_channel, rule.channel],
    )


def _allocation_sql(union: str, rounds: int, district: str | None, *, refused: bool = False) -> tuple[str, list]:
    """One statement over the candidate rows `union` (GRANT_COLUMNS + grp, prio,
    cap_fen, vkey) granting each person at most one rule per group.

    A person's choices in a group are their qualifying rules ranked by amount (highest
    first), then priority, then rule id. Round 1: everybody claims their first choice;
    round k: whoever was turned away in round k-1 claims their k-th choice. Each
    capped rule takes its claims round by round, within a round in the order
    registrations became countable (vkey, then registration id), on top of what
    earlier rounds granted, and stops at the first claim that would pass its cap: it
    takes nobody after that, in that round or any later one (so the total never exceeds
    the cap, to the fen). A rule without a cap takes every claim. Rounds are unrolled
    into CTEs (a group has a handful of rules); everything is window functions and
    joins, the same on PostgreSQL and SQLite.
    """
    running = "SUM(c.fen) OVER (PARTITION BY c.rule_id ORDER BY c.vkey, c.registration_id ROWS UNBOUNDED PRECEDING)"
    ctes = [
        f"wc AS ({union})",
        "wd AS (SELECT wc.*, CAST(ROUND(amount * 100) AS BIGINT) AS fen, ROW_NUMBER() OVER"
        " (PARTITION BY person_id, grp ORDER BY amount DESC, prio, rule_id) AS choice FROM wc)",
    ]
    for k in range(1, rounds + 1):
        if k == 1:
            ctes.append(f"s1 AS (SELECT c.*, {running} AS running, 0 AS closed FROM wd c WHERE c.choice = 1)")  # noqa: S608
        else:
            # Who is still without a rule of the group: turned away in the previous round.
            ctes.append(
                f"c{k} AS (SELECT wd.* FROM wd JOIN o{k - 1} o ON o.person_id = wd.person_id"  # noqa: S608
                f" AND o.grp = wd.grp AND o.ok = 0 WHERE wd.choice = {k})"
            )
            # What each rule has granted so far, and whether it has already turned someone away.
            done = " UNION ALL ".join(f"SELECT rule_id, fen, ok FROM o{j}" for j in range(1, k))  # noqa: S608
            ctes.append(
                f"u{k} AS (SELECT rule_id, SUM(CASE WHEN ok = 1 THEN fen ELSE 0 END) AS used,"  # noqa: S608
                f" MAX(CASE WHEN ok = 1 THEN 0 ELSE 1 END) AS closed FROM ({done}) d GROUP BY rule_id)"
            )
            ctes.append(
                f"s{k} AS (SELECT c.*, COALESCE(u.used, 0) + {running} AS running, COALESCE(u.closed, 0) AS closed"  # noqa: S608
                f" FROM c{k} c LEFT JOIN u{k} u ON u.rule_id = c.rule_id)"
            )
        ctes.append(
            f"o{k} AS (SELECT s.*, CASE WHEN s.cap_fen IS NULL OR (s.closed = 0 AND s.running <= s.cap_fen)"  # noqa: S608
            f" THEN 1 ELSE 0 END AS ok FROM s{k} s)"
        )
    district_filter, params = ("AND district_id = %s", [district]) if district else ("", [])
    if refused:
        # First choices of people with no granted row in their group: turned away by caps.
        # An anti-join on a grouped set (a hash join), not NOT EXISTS over the unioned rounds
        # (which the planner runs as a nested loop: minutes for a county of 6,000 people).
        granted = " UNION ALL ".join(
            f"SELECT person_id, grp FROM o{k} WHERE ok = 1"  # noqa: S608
            for k in range(1, rounds + 1)
        )
        ctes.append(f"gr AS (SELECT person_id, grp FROM ({granted}) u GROUP BY person_id, grp)")  # noqa: S608
        cols = ", ".join(f"w.{c.strip()}" for c in GRANT_COLUMNS.split(","))
        final = (
            f"SELECT {cols} FROM wd w LEFT JOIN gr ON gr.person_id = w.person_id AND gr.grp = w.grp"  # noqa: S608
            f" WHERE w.choice = 1 AND gr.person_id IS NULL {district_filter.replace('district_id', 'w.district_id')}"
        )
        return f"WITH {', '.join(ctes)} {final}", params
    params = params * rounds
    final = " UNION ALL ".join(
        f"SELECT {GRANT_COLUMNS} FROM o{k} WHERE ok = 1 {district_filter}"  # noqa: S608
        for k in range(1, rounds + 1)
    )
    return f"WITH {', '.join(ctes)} {final}", params


# --------------------------------------------------------------------------- preview


def rule_preview(rule, *, within=None) -> dict:
    """Who would be granted `rule`, by stay district, and at what cost.

    Counts registrations as they stand now (active, in the rule's region, and in
    `within` — the viewer's region — when given), through the computation's own
    statements (`grants_sql`): the budget cap, and for a rule in an exclusivity group
    the group's other active rules (a person who gets a better rule of the group is not
    counted; one turned away from a better rule by its cap is). A draft is previewed as
    if it were activated: it takes the place of the active version of its rule_key.
    """
    programme = rule.programme
    regions = region_index()
    rules = [rule]
    if rule.exclusivity_group:
        SubsidyRule = apps.get_model("programs", "SubsidyRule")
        rules += list(
            SubsidyRule.objects.filter(
                programme=programme, status="active", exclusivity_group=rule.exclusivity_group
            ).exclude(rule_key=rule.rule_key)
        )
    statements = grants_sql(programme, rules, regions, None)
    union = " UNION ALL ".join(
        f"SELECT district_id, rule_id, person_id, amount FROM ({s}) g{i}"  # noqa: S608
        for i, (s, _) in enumerate(statements)
    )
    params = [p for _, ps in statements for p in ps]
    where, where_params = "", []
    if within is not None and within.pk != programme.region_id:
        marks, codes = _in(regions.districts_within(within.pk) or ["------"])
        where, where_params = f" AND district_id IN ({marks})", codes
    sql = (
        "SELECT district_id, COUNT(*), SUM(CAST(ROUND(amount * 100) AS BIGINT))"  # noqa: S608
        f" FROM ({union}) q WHERE rule_id = %s{where} GROUP BY district_id"
    )
    figures: dict[str, dict] = {}

    def row(code):
        return figures.setdefault(
            code,
            {"count": 0, "fen": 0, "refused": 0, "topups": 0, "topup_fen": 0, "flagged": 0, "flagged_fen": 0},
        )

    with connection.cursor() as cur:
        cur.execute(sql, [*params, rule.pk, *where_params])
        for code, count, fen in cur.fetchall():
            row(code).update(count=count, fen=int(fen or 0))
        # Who the budget cap turns away (预算已用完): the computation's own statement.
        if rule.budget_cap is not None:
            if connection.vendor == "postgresql" and connection.in_atomic_block:
                # A hash anti-join, as in the computation (disbursements.entitlements._store_refusals).
                cur.execute("SET LOCAL enable_nestloop = off")
            for s, ps in grants_sql(programme, rules, regions, None, refused=True):
                cur.execute(
                    f"SELECT district_id, COUNT(*) FROM ({s}) q WHERE rule_id = %s{where} GROUP BY district_id",  # noqa: S608
                    [*ps, rule.pk, *where_params],
                )
                for code, count in cur.fetchall():
                    row(code)["refused"] = count
            if connection.vendor == "postgresql" and connection.in_atomic_block:
                cur.execute("SET LOCAL enable_nestloop = on")
        # Against money already settled for the rule key (paid, or in a batch, and
        # recoveries): what activating adds as 补差 top-ups, and what it would list as
        # 多发/待核查 (see disbursements.settlement).
        settled_sql, settled_params = _settled_sql(programme, rule.rule_key)
        cur.execute(
            f"WITH g AS (SELECT person_id, amount FROM ({union}) q WHERE rule_id = %s),"  # noqa: S608
            f" s AS ({settled_sql})"
            " SELECT s.district_id,"
            " SUM(CASE WHEN g.amount > s.settled THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN g.amount > s.settled THEN CAST(ROUND((g.amount - s.settled) * 100) AS BIGINT) ELSE 0 END),"
            " SUM(CASE WHEN COALESCE(g.amount, 0) < s.settled THEN 1 ELSE 0 END),"
            " SUM(CASE WHEN COALESCE(g.amount, 0) < s.settled"
            " THEN CAST(ROUND((s.settled - COALESCE(g.amount, 0)) * 100) AS BIGINT) ELSE 0 END)"
            f" FROM s LEFT JOIN g ON g.person_id = s.person_id WHERE 1 = 1{where.replace('district_id', 's.district_id')}"
            " GROUP BY s.district_id",
            [*params, rule.pk, *settled_params, *where_params],
        )
        for code, topups, topup_fen, flagged, flagged_fen in cur.fetchall():
            if topups or flagged:
                row(code).update(
                    topups=topups, topup_fen=int(topup_fen or 0), flagged=flagged, flagged_fen=int(flagged_fen or 0)
                )
    Region = apps.get_model("regions", "Region")
    names = dict(Region.objects.filter(code__in=list(figures)).values_list("code", "name"))
    out = [
        {
            "district": code,
            "name": names.get(code, code),
            "count": f["count"],
            "amount": Decimal(f["fen"]) / 100,
            "refused": f["refused"],
            "topups": f["topups"],
            "topup_amount": Decimal(f["topup_fen"]) / 100,
            "flagged": f["flagged"],
            "flagged_amount": Decimal(f["flagged_fen"]) / 100,
        }
        for code, f in sorted(figures.items())
    ]

    def total(name):
        return sum((r[name] for r in out), Decimal("0")).quantize(Decimal("0.01"))

    return {
        "districts": out,
        "count": sum(r["count"] for r in out),
        "amount": total("amount"),
        "refused": sum(r["refused"] for r in out),
        "topups": sum(r["topups"] for r in out),
        "topup_amount": total("topup_amount"),
        "flagged": sum(r["flagged"] for r in out),
        "flagged_amount": total("flagged_amount"),
        "group": rule.exclusivity_group,
        "group_rules": len(rules),
    }


def _settled_sql(programme, rule_key: str) -> tuple[str, list]:
    """Per person, the money settled for `rule_key` (rows with a paid line or a pending one
    in an approved batch, and recoveries) and the district of their base row. The tables are looked up through the
    app registry: this app sits below disbursements."""
    ent = apps.get_model("disbursements", "Entitlement")._meta.db_table
    line = apps.get_model("disbursements", "PaymentLine")._meta.db_table
    batch = apps.get_model("disbursements", "Batch")._meta.db_table
    return (
        "SELECT e.person_id, MAX(CASE WHEN e.kind = 'base' THEN e.district_id END) AS district_id,"  # noqa: S608
        f" SUM(e.amount) AS settled FROM {ent} e WHERE e.programme_id = %s AND e.rule_key = %s"
        " AND e.status = 'granted' AND (e.kind = 'adjustment' OR EXISTS (SELECT 1 FROM"
        f" {line} l JOIN {batch} b ON b.id = l.batch_id WHERE l.entitlement_id = e.id AND (l.status = 'paid'"
        " OR (l.status = 'pending' AND b.status IN ('approved', 'exported', 'reconciled'))))) GROUP BY e.person_id",
        [programme.pk, rule_key],
    )
