"""Demo survey reports (摸排), entered and reviewed through the services.

The article reports its survey counts per CITY; reports are entered per district. So
the city totals are spread over every district of the city (largest-remainder shares
of fixed weights), and the cities' sums of the latest approved reports are exactly the
article's numbers:

    承德市    4,528 enterprises surveyed, 9,672 outside workers, 4,384 staying;
              140 enterprises gave their own benefits, ¥5,113,000 (511.3万元)
    张家口市  1,875 enterprises surveyed, 71,151 staying = 60,222 local + 10,929 non-local;
              70 poverty-registered labourers staying (65 + 5)

The article prints no outside-worker count for 张家口: the demo takes its non-local
staying workers as its outside workers. Origins, on-duty counts and the other cities'
reports are synthetic. Earlier as-of dates (at 60 %, 80 % and 95 % of the final figures)
give the trend chart something to draw; the final reports are as of 2021-03-31. Beside
them: 石家庄 (鹿泉's last report is waiting for the city), 沧州 (运河区 has not filed the
last period: the overdue district), 衡水 and 定州 (reviewed by the province).
"""

import datetime as dt
from decimal import Decimal

from django.db import transaction

from accounts.choices import Role
from accounts.models import User
from programs.choices import SurveyStatus
from programs.models import Programme, SurveyReport
from programs.surveys.services import survey_approve, survey_changes_batched, survey_create, survey_submit
from regions.models import Region

D = dt.date
FINAL = D(2021, 3, 31)
TREND = [(D(2021, 1, 29), Decimal("0.60")), (D(2021, 2, 5), Decimal("0.80")), (D(2021, 2, 26), Decimal("0.95"))]

ARTICLE_CITIES = {
    "130800": {  # 承德市
        "enterprises_surveyed": 4528,
        "outside_workers": 9672,
        "staying": 4384,
        "enterprises_with_benefits": 140,
        "benefits_amount": Decimal("5113000.00"),
    },
    "130700": {  # 张家口市
        "enterprises_surveyed": 1875,
        "staying_local": 60222,
        "staying_nonlocal": 10929,
        "poverty_staying": 70,
    },
}
# Other districts' final figures (synthetic).
OTHER_DISTRICTS = {
    "130110": {
        "enterprises_surveyed": 320,
        "outside_workers": 5200,
        "staying": 3100,
        "staying_local": 900,
        "staying_nonlocal": 2200,
    },
    "130172": {
        "enterprises_surveyed": 45,
        "outside_workers": 1800,
        "staying": 1260,
        "staying_local": 300,
        "staying_nonlocal": 960,
    },
    "130102": {
        "enterprises_surveyed": 510,
        "outside_workers": 7400,
        "staying": 4100,
        "staying_local": 1500,
        "staying_nonlocal": 2600,
    },
    "130902": {
        "enterprises_surveyed": 260,
        "outside_workers": 3300,
        "staying": 2050,
        "staying_local": 800,
        "staying_nonlocal": 1250,
    },
    "130903": {
        "enterprises_surveyed": 230,
        "outside_workers": 2900,
        "staying": 1720,
        "staying_local": 700,
        "staying_nonlocal": 1020,
    },
    "131102": {
        "enterprises_surveyed": 380,
        "outside_workers": 4100,
        "staying": 2600,
        "staying_local": 1100,
        "staying_nonlocal": 1500,
    },
    "130682": {
        "enterprises_surveyed": 290,
        "outside_workers": 2600,
        "staying": 1500,
        "staying_local": 650,
        "staying_nonlocal": 850,
    },
}
OVERDUE = "130903"  # 沧州运河区: files every period but the last
AWAITING_REVIEW = "130110"  # 鹿泉区: last report submitted, not yet approved


def demo_programme() -> Programme:
    """The 2021 Hebei programme (made by programs.demo; created here if that step is absent)."""
    programme = Programme.objects.filter(region_id="130000", start_date=D(2021, 1, 21)).order_by("pk").first()
    if programme is None:
        programme = Programme.objects.create(
            code="HEBEI-2021",
            name="河北省2021年迎新春送温暖、稳岗留工专项行动",
            region_id="130000",
            start_date=D(2021, 1, 21),
            end_date=D(2021, 3, 31),
            holiday_start=D(2021, 2, 11),
            holiday_end=D(2021, 2, 17),
            registration_deadline=D(2021, 2, 28),
        )
    return programme


def split(total: int, weights: list[int]) -> list[int]:
    """`total` in shares of `weights`, as integers that add up to `total` exactly."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    order = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % whole), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


def _weights(n: int) -> list[int]:
    return [5 + (i * 7) % 11 for i in range(n)]


def _complete(f: dict) -> dict:
    """Fill the parts the article does not give, always within their wholes."""
    f = dict(f)
    if "staying" not in f:
        f["staying"] = f.get("staying_local", 0) + f.get("staying_nonlocal", 0)
    if "outside_workers" not in f:
        f["outside_workers"] = f.get("staying_nonlocal", 0)
    outside = f["outside_workers"]
    f.setdefault("outside_other_province", outside * 3 // 10)
    f.setdefault("outside_other_city", outside * 45 // 100)
    f.setdefault("outside_other_county", outside - f["outside_other_province"] - f["outside_other_city"])
    f.setdefault("staying_on_duty", f["staying"] * 2 // 5)
    return f


def _scaled(f: dict, ratio: Decimal) -> dict:
    out = {}
    for k, v in f.items():
        out[k] = (v * ratio).quantize(Decimal("0.01")) if isinstance(v, Decimal) else int(v * ratio)
    # Rounding down each part separately keeps every part within its whole, except the
    # one computed as a remainder: recompute it.
    out["outside_other_county"] = out["outside_workers"] - out["outside_other_province"] - out["outside_other_city"]
    if not out.get("enterprises_with_benefits"):
        out["benefits_amount"] = Decimal("0.00")
    return out


def district_figures() -> dict[str, dict]:
    """Final figures per district code."""
    figures = {}
    for city_code, totals in ARTICLE_CITIES.items():
        districts = list(Region.objects.filter(parent_id=city_code, level="district").order_by("code"))
        weights = _weights(len(districts))
        per_field = {
            field: split(int(value), weights) for field, value in totals.items() if not isinstance(value, Decimal)
        }
        money = {field: value for field, value in totals.items() if isinstance(value, Decimal)}
        benefit_firms = per_field.get("enterprises_with_benefits")
        for i, district in enumerate(districts):
            f = {field: shares[i] for field, shares in per_field.items()}
            for field, value in money.items():
                # Cents shared like the counts, so the city sum is exact.
                f[field] = Decimal(split(int(value * 100), benefit_firms or weights)[i]) / 100
            figures[district.code] = _complete(f)
    for code, f in OTHER_DISTRICTS.items():
        figures[code] = _complete(f)
    return figures


def _users() -> dict:
    by_region = {}
    for user in User.objects.filter(role__in=[Role.DISTRICT, Role.CITY, Role.PROVINCE]).order_by("username"):
        by_region.setdefault((user.role, user.region_id), user)
    admin = User.objects.filter(is_superuser=True).order_by("pk").first()
    return {"by_region": by_region, "admin": admin}


def _file(programme, district: Region, as_of, data, users, *, approve: bool) -> None:
    if SurveyReport.objects.filter(programme=programme, district=district, as_of=as_of).exists():
        return
    by_region = users["by_region"]
    officer = by_region.get((Role.DISTRICT, district.code)) or users["admin"]
    city = district.city
    reviewer = (by_region.get((Role.CITY, city.code)) if city and city.level == "city" else None) or by_region.get(
        (Role.PROVINCE, "130000")
    )
    report = survey_create(
        programme=programme, district=district, as_of=as_of, data=data, acting_user=officer, confirm_jump=True
    )
    report = survey_submit(report=report, acting_user=officer)
    if approve and reviewer is not None:
        survey_approve(report=report, acting_user=reviewer)


def demo_surveys() -> dict:
    programme = demo_programme()
    users = _users()
    figures = district_figures()
    districts = {r.code: r for r in Region.objects.filter(code__in=figures).select_related("parent")}
    with survey_changes_batched(), transaction.atomic():
        for as_of, ratio in TREND:
            for code, final in figures.items():
                _file(programme, districts[code], as_of, _scaled(final, ratio), users, approve=True)
        for code, final in figures.items():
            if code == OVERDUE:
                continue
            _file(programme, districts[code], FINAL, final, users, approve=code != AWAITING_REVIEW)
    approved = SurveyReport.objects.filter(programme=programme, status=SurveyStatus.APPROVED).count()
    return {"reports": SurveyReport.objects.filter(programme=programme).count(), "approved": approved}


DEMO_STEPS = [("摸排报表（承德、张家口等）", demo_surveys)]
