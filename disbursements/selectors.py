"""Why a person was granted what they were, in words (“户籍地 保定市，非石家庄市；单位性质
私营/非公 → 鹿泉区 ¥500.00”), from the condition values the computation kept in
`Entitlement.reason` and the rule version that granted it. Reads only."""

from django.utils.translation import gettext

from core.money import yuan_text
from programs.choices import HukouScope
from programs.rules.conditions import CATEGORIES, OWNERSHIPS
from regions.models import DivisionCode, Region


def _place(code: str, names: dict[str, str]) -> str:
    """A hukou code as people say it: its city (or the county when it has no city)."""
    city = f"{code[:4]}00"
    return names.get(city) or names.get(code) or code


def why_texts(entitlements) -> dict[int, str]:
    """{entitlement id: its why}, for a page of entitlements (two queries for the names)."""
    entitlements = list(entitlements)
    codes, stays = set(), set()
    for ent in entitlements:
        hukou = (ent.reason or {}).get("hukou")
        if hukou:
            codes |= {hukou, f"{hukou[:4]}00"}
        stays.add((ent.reason or {}).get("stay") or ent.district_id)
    names = dict(DivisionCode.objects.filter(code__in=codes).values_list("code", "name"))
    regions = {r.code: r for r in Region.objects.filter(code__in=stays).select_related("parent")}
    return {ent.pk: _why(ent, names, regions) for ent in entitlements}


def _why(ent, names: dict[str, str], regions: dict[str, Region]) -> str:
    reason = ent.reason or {}
    conditions = getattr(ent.rule, "conditions", None) or {}
    stay = regions.get(reason.get("stay") or ent.district_id)
    parts = []
    hukou = reason.get("hukou")
    if hukou:
        scope = conditions.get("hukou_outside")
        outside = {
            HukouScope.CITY: stay.city.name if stay and stay.city else "",
            HukouScope.COUNTY: stay.name if stay else "",
            HukouScope.PROVINCE: gettext("河北省") if hukou[:2] != "13" else "",
        }.get(scope, "")
        place = _place(hukou, names)
        if outside:
            parts.append(gettext("户籍地 %(place)s，非%(outside)s") % {"place": place, "outside": outside})
        else:
            parts.append(gettext("户籍地 %(place)s") % {"place": place})
    if reason.get("ownership"):
        parts.append(
            gettext("单位性质 %(value)s") % {"value": OWNERSHIPS.get(reason["ownership"], reason["ownership"])}
        )
    if reason.get("employer"):
        parts.append(gettext("限定企业 %(code)s") % {"code": reason["employer"]})
    if reason.get("category"):
        parts.append(gettext("人员类别 %(value)s") % {"value": CATEGORIES.get(reason["category"], reason["category"])})
    if reason.get("duty_days") not in (None, ""):
        parts.append(gettext("春节在岗 %(days)s 天") % {"days": reason["duty_days"]})
    if reason.get("stay_from") and reason.get("stay_to"):
        parts.append(gettext("留岗 %(start)s 至 %(end)s") % {"start": reason["stay_from"], "end": reason["stay_to"]})
    if reason.get("seniority_years") not in (None, ""):
        parts.append(gettext("工龄 %(years)s 年") % {"years": reason["seniority_years"]})
    head = gettext("；").join(parts)
    tail = gettext("%(place)s ¥%(amount)s") % {
        "place": stay.name if stay else ent.district_id,
        "amount": yuan_text(ent.amount),
    }
    return f"{head} → {tail}" if head else tail
