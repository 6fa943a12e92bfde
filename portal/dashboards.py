"""Dashboard selectors: the panel of one programme and region, read from the rollups.

Every figure comes from disbursements' RegionRollup / RuleRollup rows (kept current by
Celery), the trend and the overdue list from the small survey table; nothing here scans
registrations or entitlements. The same dict feeds the page, the JSON API and the XLSX
export, so they always agree.

Scope: province staff see the province, city staff their city, district officers their
district, superusers everything; anybody else, and any region outside the scope or the
programme, gets None from `dashboard_scope` and the views answer 404.
"""

import datetime
import io
from decimal import Decimal

from django.conf import settings
from django.core.cache import cache
from django.db.models import Sum
from django.dispatch import receiver
from django.utils import timezone

from accounts.scopes import is_admin, is_staff_user
from core.errors import DomainError
from core.money import format_yuan
from disbursements.models import RegionRollup, RuleRollup
from disbursements.services.rollups import rollups_pending, rollups_refresh, rollups_refreshed
from programs.choices import SURVEY_APPROVED, ProgrammeStatus, RuleKind
from programs.models import Programme, SurveyReport
from programs.surveys.fields import COUNT_FIELDS
from programs.surveys.periods import survey_overdue, survey_periods
from regions.choices import Level
from regions.models import Region
from regions.selectors import regions_q

MONEY_KEYS = ["entitled", "employer_funded", "batched", "pending", "paid", "failed"]
RANKING_LIMIT = 20


def dashboard_programmes(user):
    """Programmes the chooser offers (not drafts), newest first."""
    if not user.is_authenticated or not is_staff_user(user):
        return Programme.objects.none()
    return (
        Programme.objects.exclude(status=ProgrammeStatus.DRAFT).select_related("region").order_by("-start_date", "code")
    )


def dashboard_scope(user, *, programme_code: str | None, region_code: str | None) -> tuple[Programme, Region] | None:
    """The programme and region the user asked for, or None when either is unknown, out of
    the user's scope (regions.selectors.regions_q) or outside the programme's region: the
    views answer 404 then.

    Two queries: the programme, then the region's rollup row with the region (whose
    `refreshed_at` is the panel's cache version, kept on the region as `rollup_version`).
    """
    programmes = dashboard_programmes(user)
    programme = programmes.filter(code=programme_code).first() if programme_code else programmes.first()
    if programme is None:
        return None
    home_code = programme.region_id if is_admin(user) else user.region_id
    if home_code is None:
        return None
    code = region_code or home_code
    row = (
        RegionRollup.objects.filter(
            regions_q(user, region="region"),
            programme=programme,
            region_id=code,
            region__path__startswith=programme.region.path,
        )
        .select_related("region__parent")
        .only(
            "refreshed_at",
            "region__code",
            "region__name",
            "region__level",
            "region__path",
            "region__parent_id",
            "region__kind",
            "region__parent__code",
            "region__parent__name",
            "region__parent__level",
            "region__parent__path",
            "region__parent__parent_id",
        )
        .first()
    )
    if row is not None:
        region = row.region
    else:
        region = (
            Region.objects.filter(regions_q(user), code=code).within(programme.region).select_related("parent").first()
        )
        if region is None:
            return None
    region.rollup_version = row.refreshed_at if row is not None else None
    return programme, region


# --- building the panel ---------------------------------------------------------------------


def _money(count, amount) -> dict:
    return {"count": int(count or 0), "amount": format_yuan(amount or Decimal("0"))}


def _share(part, whole) -> str | None:
    if not whole:
        return None
    return str((Decimal(part or 0) * 100 / Decimal(whole)).quantize(Decimal("0.01")))


def _figures(row: RegionRollup | None, region: Region, budget: Decimal) -> dict:
    """The numbers of one region (its rollup row; zeros when there is none yet)."""
    get = (lambda name: getattr(row, name)) if row is not None else (lambda name: None)
    survey = {key: int(get(key) or 0) for key in COUNT_FIELDS}
    survey["benefits_amount"] = format_yuan(get("benefits_amount") or Decimal("0"))
    survey["as_of"] = get("survey_as_of").isoformat() if get("survey_as_of") else None
    survey["districts_reporting"] = int(get("survey_districts") or 0)
    money = {key: _money(get(f"{key}_count"), get(f"{key}_amount")) for key in MONEY_KEYS}
    entitled = Decimal(money["entitled"]["amount"])
    # Recoveries (追回) are part of entitled and never batched: not "unbatched" money.
    adjusted = Decimal(get("adjusted_amount") or 0)
    unbatched = entitled - Decimal(money["batched"]["amount"]) - adjusted
    return {
        "region": region.code,
        "region_name": region.name,
        "level": region.level,
        "survey": survey,
        "employers": int(get("employers") or 0),
        "employers_verified": int(get("employers_verified") or 0),
        "registered_workers": int(get("registered_workers") or 0),
        **money,
        "unbatched": _money(money["entitled"]["count"] - money["batched"]["count"], unbatched),
        "adjusted": format_yuan(adjusted),
        # Turned away by budget caps (预算已用完) and open 多发/待核查 items: said, not hidden.
        "refused": _money(get("refused_count"), get("refused_amount")),
        "overpaid": _money(get("overpaid_count"), get("overpaid_amount")),
        "budget_use": {
            "entitled_percent": _share(entitled, budget),
            "paid_percent": _share(Decimal(money["paid"]["amount"]), budget),
        },
    }


def _breadcrumb(region: Region, top: Region) -> list[dict]:
    codes = [region.path[i : i + 6] for i in range(0, len(region.path), 7)]
    names = dict(Region.objects.filter(code__in=codes).values_list("code", "name"))
    start = codes.index(top.code) if top.code in codes else 0
    return [{"code": c, "name": names.get(c, c)} for c in codes[start:]]


def _trend(programme: Programme, region: Region) -> list[dict]:
    """Sums of approved reports per reporting period (by the period's last day)."""
    periods = survey_periods(programme)
    reports = SurveyReport.objects.filter(programme=programme, status__in=SURVEY_APPROVED)
    if region.code != programme.region_id:  # an IN list of codes, not a join on the path (see survey_overdue)
        codes = Region.objects.filter(path__startswith=region.path, level=Level.DISTRICT).values_list("code", flat=True)
        reports = reports.filter(district_id__in=list(codes))
    rows = (
        reports.values("as_of")
        .annotate(**{key: Sum(key) for key in ("enterprises_surveyed", "outside_workers", "staying")})
        .order_by("as_of")
    )
    by_end: dict[datetime.date, dict] = {}
    for row in rows:
        end = next((p.end for p in periods if row["as_of"] in p), row["as_of"])
        point = by_end.setdefault(
            end, {"as_of": end.isoformat(), "enterprises_surveyed": 0, "outside_workers": 0, "staying": 0}
        )
        for key in ("enterprises_surveyed", "outside_workers", "staying"):
            point[key] += int(row[key] or 0)
    return [by_end[k] for k in sorted(by_end)]


def _rules(programme: Programme, region: Region) -> list[dict]:
    rows = RuleRollup.objects.filter(programme=programme, region=region).order_by("-entitled_amount", "rule_key")
    kinds = dict(RuleKind.choices)
    return [
        {
            "rule_key": r.rule_key,
            "rule_name": r.rule_name,
            "kind": r.kind,
            "kind_label": kinds.get(r.kind, r.kind),
            "entitled": _money(r.entitled_count, r.entitled_amount),
            "paid": _money(r.paid_count, r.paid_amount),
        }
        for r in rows
    ]


def _ranking(programme: Programme, region: Region, budget: Decimal, *, limit: int | None) -> list[dict]:
    qs = (
        RegionRollup.objects.filter(programme=programme, level=Level.DISTRICT, path__startswith=region.path)
        .select_related("region__parent")
        .order_by("-entitled_amount", "-staying", "region_id")
    )
    if limit:
        qs = qs[:limit]
    out = []
    for rank, row in enumerate(qs, start=1):
        figures = _figures(row, row.region, budget)
        city = row.region.city
        figures.update(rank=rank, city_name=city.name if city else "")
        out.append(figures)
    return out


PANEL_TTL = 600  # seconds; a refresh makes a new version anyway


def dashboard_panel(
    *, programme: Programme, region: Region, today: datetime.date | None = None, full: bool = False
) -> dict:
    """Everything the dashboard page, the API and the export show for one region.

    Cached per (programme, region, rollup version, day): the version is the region's
    rollup `refreshed_at`, so a refresh (on change, by beat) makes the next request
    build a new panel; the day is in the key because the overdue list depends on it.
    """
    today = today or timezone.localdate()
    version = getattr(region, "rollup_version", None)  # dashboard_scope read it with the region
    if version is None:
        version = (
            RegionRollup.objects.filter(programme=programme, region=region)
            .values_list("refreshed_at", flat=True)
            .first()
        )
    if version is None and not RegionRollup.objects.filter(programme=programme).exists():
        # Never refreshed (a new programme): build them now, once; from then on Celery
        # keeps them current.
        rollups_refresh(programme=programme)
        version = (
            RegionRollup.objects.filter(programme=programme, region=region)
            .values_list("refreshed_at", flat=True)
            .first()
        )
    key = f"dashboard:panel:{programme.pk}:{region.code}:{int(full)}:{today.isoformat()}:{version.isoformat() if version else '-'}"
    panel = cache.get(key)
    if panel is None:
        panel = _build_panel(programme=programme, region=region, today=today, full=full)
        cache.set(key, panel, PANEL_TTL)
    return panel


def dashboard_refresh_pending(*, programme: Programme, region: Region) -> bool:
    """Whether a change under `region` is not in the figures yet (a district marked, a
    whole refresh waiting): said beside "数据更新于", so that the time stays true. Read
    per request, outside the cached panel (one small indexed query)."""
    return rollups_pending(programme=programme, region=region)


def _build_panel(*, programme: Programme, region: Region, today: datetime.date, full: bool) -> dict:
    children = list(Region.objects.filter(parent=region).order_by("code"))
    rows = {
        r.region_id: r
        for r in RegionRollup.objects.filter(
            programme=programme, region_id__in=[region.code, *(c.code for c in children)]
        )
    }
    budget = programme.budget
    own = rows.get(region.code)
    panel = _figures(own, region, budget)
    panel.update(
        programme={
            "code": programme.code,
            "name": programme.name,
            "budget": format_yuan(budget),
            "start_date": programme.start_date.isoformat(),
            "end_date": programme.end_date.isoformat(),
        },
        parent=region.parent_id if region.parent_id and region.code != programme.region_id else None,
        children=[_figures(rows.get(c.code), c, budget) for c in children],
        by_rule=_rules(programme, region),
        trend=_trend(programme, region),
        ranking=_ranking(programme, region, budget, limit=None if full else RANKING_LIMIT)
        if region.level != Level.DISTRICT
        else [],
        overdue=_overdue(programme, region, today),
        updated_at=own.refreshed_at.isoformat() if own is not None else None,
    )
    return panel


def dashboard_warm(*, programme: Programme) -> int:
    """Build and cache the panel of every region of the programme (after a refresh), so
    that no reader waits for a panel to be built. Returns the number of panels."""
    regions = Region.objects.filter(path__startswith=programme.region.path).select_related("parent")
    today = timezone.localdate()
    count = 0
    for region in regions:
        dashboard_panel(programme=programme, region=region, today=today)
        count += 1
    return count


@receiver(rollups_refreshed, dispatch_uid="dashboard_warm_on_refresh")
def _warm_on_refresh(sender, programme_id: int, **kwargs) -> None:
    # Only with a real worker: in-process (eager) tasks would make the request that
    # triggered the refresh wait for every panel; there panels are built on first view.
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return
    programme = Programme.objects.select_related("region").filter(pk=programme_id).first()
    if programme is not None:
        dashboard_warm(programme=programme)


def _overdue(programme: Programme, region: Region, today) -> dict:
    result = survey_overdue(programme=programme, region=region, today=today)
    period = result["period"]
    return {
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "deadline": period.deadline.isoformat(),
        }
        if period
        else None,
        "as_of": result["as_of"].isoformat(),
        "ended": result["ended"],
        "rows": [
            {
                **row,
                "period_start": row["period_start"].isoformat(),
                "period_end": row["period_end"].isoformat(),
                "deadline": row["deadline"].isoformat(),
                "last_as_of": row["last_as_of"].isoformat() if row["last_as_of"] else None,
            }
            for row in result["rows"]
        ],
    }


# --- XLSX export ----------------------------------------------------------------------------

TABLES = {
    "children": "下级区域",
    "ranking": "区县排名",
    "rules": "按规则",
    "trend": "摸排趋势",
    "overdue": "逾期未报",
}


def _region_columns():
    return [
        ("区域代码", lambda r: r["region"]),
        ("区域", lambda r: r["region_name"]),
        ("摸排截止日期", lambda r: r["survey"]["as_of"] or ""),
        ("摸排企业数", lambda r: r["survey"]["enterprises_surveyed"]),
        ("外地务工人员", lambda r: r["survey"]["outside_workers"]),
        ("留岗人数", lambda r: r["survey"]["staying"]),
        ("其中本地户籍", lambda r: r["survey"]["staying_local"]),
        ("其中非本地户籍", lambda r: r["survey"]["staying_nonlocal"]),
        ("贫困劳动力", lambda r: r["survey"]["poverty_staying"]),
        ("登记企业", lambda r: r["employers"]),
        ("登记留岗人员", lambda r: r["registered_workers"]),
        ("核定人数", lambda r: r["entitled"]["count"]),
        ("核定金额（元）", lambda r: Decimal(r["entitled"]["amount"])),
        ("已入批次金额（元）", lambda r: Decimal(r["batched"]["amount"])),
        ("已发放人数", lambda r: r["paid"]["count"]),
        ("已发放金额（元）", lambda r: Decimal(r["paid"]["amount"])),
        ("发放失败金额（元）", lambda r: Decimal(r["failed"]["amount"])),
    ]


def _table(panel: dict, name: str) -> tuple[list[str], list[list]]:
    if name in ("children", "ranking"):
        cols = _region_columns()
        if name == "ranking":
            cols = [("名次", lambda r: r["rank"]), ("所属市", lambda r: r["city_name"]), *cols]
        return [c for c, _ in cols], [[f(r) for _, f in cols] for r in panel[name]]
    if name == "rules":
        head = ["规则编号", "规则名称", "类型", "核定人数", "核定金额（元）", "已发放人数", "已发放金额（元）"]
        rows = [
            [
                r["rule_key"],
                r["rule_name"],
                r["kind_label"],
                r["entitled"]["count"],
                Decimal(r["entitled"]["amount"]),
                r["paid"]["count"],
                Decimal(r["paid"]["amount"]),
            ]
            for r in panel["by_rule"]
        ]
        return head, rows
    if name == "trend":
        head = ["统计截止日期", "摸排企业数", "外地务工人员", "留岗人数"]
        return head, [
            [p["as_of"], p["enterprises_surveyed"], p["outside_workers"], p["staying"]] for p in panel["trend"]
        ]
    if name == "overdue":
        head = ["所属市", "区县代码", "区县", "报告期", "截止日期", "逾期天数", "本期状态", "最近一次报表"]
        rows = [
            [
                r["city_name"],
                r["district"],
                r["district_name"],
                f"{r['period_start']} 至 {r['period_end']}",
                r["deadline"],
                r["days_late"],
                r["status"],
                r["last_as_of"] or "",
            ]
            for r in panel["overdue"]["rows"]
        ]
        return head, rows
    raise DomainError(f"没有这个表：{name}")  # the views check the name against TABLES first


def dashboard_xlsx(panel: dict, tables: list[str]) -> bytes:
    """The chosen tables as one workbook, a sheet each. Text cells are written as text
    only (strings_to_formulas off, write_string): a name like "=HYPERLINK(…)" stays text."""
    import xlsxwriter

    out = io.BytesIO()
    book = xlsxwriter.Workbook(
        out, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    )
    bold = book.add_format({"bold": True, "bg_color": "#E8EEF7", "border": 1})
    money = book.add_format({"num_format": "#,##0.00"})
    title = book.add_format({"bold": True, "font_size": 12})
    for name in tables:
        head, rows = _table(panel, name)
        sheet = book.add_worksheet(TABLES[name])
        sheet.write_string(
            0,
            0,
            f"{panel['programme']['name']} · {panel['region_name']} · {TABLES[name]}（数据更新于 {panel['updated_at'] or '—'}）",
            title,
        )
        for c, text in enumerate(head):
            sheet.write_string(1, c, text, bold)
            sheet.set_column(c, c, max(10, len(text) * 2))
        for r, values in enumerate(rows, start=2):
            for c, value in enumerate(values):
                if isinstance(value, Decimal):
                    sheet.write_number(
                        r, c, float(value), money
                    )  # XLSX stores numbers as doubles; fen-exact up to 2^53
                elif isinstance(value, int):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, str(value))
        sheet.freeze_panes(2, 0)
    book.close()
    return out.getvalue()
