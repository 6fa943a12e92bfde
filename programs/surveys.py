"""Survey reports (摸排): a district officer's counts per as-of date, reviewed by the city.

Workflow: draft → submitted (district) → approved (city; or returned with a reason,
then edited and submitted again) → locked (no more changes). Dashboards show each
district's latest approved (or locked) report.

Periods and deadlines (kept simple on purpose): a programme is cut into periods of
SURVEY_PERIOD_DAYS days (default 7). With weekly periods each period ends on the
SURVEY_DUE_WEEKDAY (0 = Monday … 4 = Friday, the default) and the last one ends on the
programme's end date. A report belongs to the period its as-of date falls in, one per
district and period; it is due by the period's last day plus SURVEY_GRACE_DAYS
(default 0). A district that has filed for the programme before and has nothing
submitted for the latest period whose deadline has passed is overdue.

A count that moves by more than SURVEY_JUMP_FACTOR (default 2: doubled or halved) from
the district's previous report is refused until the officer confirms it.

Every write is audited (accounts.services.audit_record) and a change of what the
dashboards show (approve, return, lock) sends `survey_changed`, which the rollups
(disbursements, a higher app) listen to.
"""

import datetime
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from accounts.choices import Role
from accounts.models import User
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from core.errors import ConflictError, DomainError, PermissionDenied
from core.money import MoneyError, to_yuan
from programs.choices import SurveyStatus
from programs.models import Programme, SurveyReport
from regions.choices import Level
from regions.models import Region

# Sent (after commit) with programme_id when what the dashboards show may have changed
# (approved figures, the overdue list): on submit, approve, return and lock.
survey_changed = Signal()

COUNT_FIELDS = [
    "enterprises_surveyed",
    "outside_workers",
    "outside_other_province",
    "outside_other_city",
    "outside_other_county",
    "staying",
    "staying_on_duty",
    "staying_local",
    "staying_nonlocal",
    "poverty_staying",
    "enterprises_with_benefits",
]
DATA_FIELDS = [*COUNT_FIELDS, "benefits_amount"]
# (whole, parts): the parts together may not exceed the whole.
PART_RULES = [
    ("outside_workers", ["outside_other_province", "outside_other_city", "outside_other_county"]),
    ("staying", ["staying_on_duty"]),
    ("staying", ["staying_local", "staying_nonlocal"]),
    ("staying", ["poverty_staying"]),
    ("enterprises_surveyed", ["enterprises_with_benefits"]),
]
# The counts compared with the previous report for a jump.
JUMP_FIELDS = ["enterprises_surveyed", "outside_workers", "staying"]
APPROVED = (SurveyStatus.APPROVED, SurveyStatus.LOCKED)
FILED = (SurveyStatus.SUBMITTED, SurveyStatus.APPROVED, SurveyStatus.LOCKED)
EDITABLE = (SurveyStatus.DRAFT, SurveyStatus.RETURNED)


def label(field: str) -> str:
    """The field's Chinese name, for messages and the API: those stay Chinese whatever
    the page language (the pages show `display_label`)."""
    with translation.override("zh-hans"):
        return str(SurveyReport._meta.get_field(field).verbose_name)


def display_label(field: str):
    """The field's name in the language of the page (lazy: resolved when rendered)."""
    return SurveyReport._meta.get_field(field).verbose_name


def jump_factor() -> Decimal:
    return Decimal(str(getattr(settings, "SURVEY_JUMP_FACTOR", 2)))


# --- periods and deadlines -------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date

    @property
    def deadline(self) -> datetime.date:
        return self.end + datetime.timedelta(days=int(getattr(settings, "SURVEY_GRACE_DAYS", 0)))

    def __contains__(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end


def survey_periods(programme: Programme) -> list[Period]:
    """The programme's reporting periods, in order (see the module docstring)."""
    days = int(getattr(settings, "SURVEY_PERIOD_DAYS", 7))
    weekday = int(getattr(settings, "SURVEY_DUE_WEEKDAY", 4))
    start = programme.start_date
    if days == 7:
        end = start + datetime.timedelta(days=(weekday - start.weekday()) % 7)
    else:
        end = start + datetime.timedelta(days=days - 1)
    periods = []
    while start <= programme.end_date:
        end = min(end, programme.end_date)
        periods.append(Period(start, end))
        start, end = end + datetime.timedelta(days=1), end + datetime.timedelta(days=days)
    return periods


def survey_period_of(programme: Programme, day: datetime.date) -> Period | None:
    for period in survey_periods(programme):
        if day in period:
            return period
    return None


# --- validation ---------------------------------------------------------------------------


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


# --- permissions --------------------------------------------------------------------------


def _is_admin(user: User) -> bool:
    return is_admin(user)


def _in_scope(user: User, region: Region) -> bool:
    return _is_admin(user) or (user.region_id is not None and user.region.contains(region))


def can_enter(user: User, district: Region) -> bool:
    """District officers enter their own district's reports."""
    return _is_admin(user) or (user.role == Role.DISTRICT and _in_scope(user, district))


def can_review(user: User, district: Region) -> bool:
    """The city reviews its districts; the province reviews districts that report
    straight to it (定州, 辛集), and may step in anywhere."""
    if _is_admin(user):
        return True
    if user.role == Role.CITY:
        return _in_scope(user, district)
    return user.role == Role.PROVINCE and _in_scope(user, district)


def _check_district(district: Region) -> None:
    if district.level != Level.DISTRICT:
        raise DomainError(f"“{district.name}”不是区县，摸排报表按区县填报。", errors={"district": "请选择区县。"})


def _invalid(errors: dict, *, code: str = "invalid") -> DomainError:
    first = next(iter(errors.values()))
    return DomainError(f"摸排报表有 {len(errors)} 处需要修改：{first}", code=code, errors=errors)


def _one_per_period(*, programme, district, as_of, exclude_pk=None) -> None:
    period = survey_period_of(programme, as_of)
    if period is None:
        return
    qs = SurveyReport.objects.filter(
        programme=programme, district=district, as_of__gte=period.start, as_of__lte=period.end
    )
    if exclude_pk:
        qs = qs.exclude(pk=exclude_pk)
    other = qs.first()
    if other is not None:
        raise ConflictError(
            f"{district.name}在本期（{period.start:%m-%d} 至 {period.end:%m-%d}）已有一份摸排报表"
            f"（截止 {other.as_of:%Y-%m-%d}，{other.get_status_display()}），请修改那一份。",
            errors={"as_of": "每个区县每期只填一份报表。"},
        )


_batched = threading.local()


@contextmanager
def survey_changes_batched():
    """Within this block (bulk entry, the demo) `survey_changed` is sent once per
    programme at the end instead of once per report."""
    outer = getattr(_batched, "pending", None)
    if outer is None:
        _batched.pending = set()
    try:
        yield
    finally:
        if outer is None:
            pending, _batched.pending = _batched.pending, None
            for programme_id in sorted(pending):
                _changed_after_commit(programme_id)


def _changed_after_commit(programme_id: int) -> None:
    pending = getattr(_batched, "pending", None)
    if pending is not None:
        pending.add(programme_id)
        return
    transaction.on_commit(lambda: survey_changed.send(sender=SurveyReport, programme_id=programme_id))


# --- services -----------------------------------------------------------------------------


@transaction.atomic
def survey_create(
    *,
    programme: Programme,
    district: Region,
    as_of: datetime.date,
    data: dict,
    acting_user: User,
    confirm_jump: bool = False,
) -> SurveyReport:
    """A new draft report for `district` as of `as_of`."""
    _check_district(district)
    if not can_enter(acting_user, district):
        raise PermissionDenied(f"只有{district.name}的人社专员可以填报本区县的摸排报表。")
    clean, errors = survey_validate(programme=programme, as_of=as_of, data=data)
    if errors:
        raise _invalid(errors)
    _one_per_period(programme=programme, district=district, as_of=as_of)
    jumps = survey_jumps(programme=programme, district=district, as_of=as_of, clean=clean)
    if jumps and not confirm_jump:
        raise _invalid(jumps, code="confirm_jump")
    report = SurveyReport.objects.create(
        programme=programme,
        district=district,
        as_of=as_of,
        created_by=acting_user,
        jump_confirmed=bool(jumps),
        **clean,
    )
    audit_record(user=acting_user, action="survey_create", obj=report, changes=_audit_values(clean, as_of))
    return report


@transaction.atomic
def survey_update(
    *,
    report: SurveyReport,
    data: dict,
    acting_user: User,
    as_of: datetime.date | None = None,
    confirm_jump: bool = False,
) -> SurveyReport:
    """Change a draft or returned report's figures (and date)."""
    report = SurveyReport.objects.select_for_update().get(pk=report.pk)  # against a concurrent submit
    if not can_enter(acting_user, report.district):
        raise PermissionDenied(f"只有{report.district.name}的人社专员可以修改本区县的摸排报表。")
    if report.status not in EDITABLE:
        raise ConflictError(f"报表状态为“{report.get_status_display()}”，不能修改；只有草稿或被退回的报表可以修改。")
    as_of = as_of or report.as_of
    clean, errors = survey_validate(programme=report.programme, as_of=as_of, data=data)
    if errors:
        raise _invalid(errors)
    _one_per_period(programme=report.programme, district=report.district, as_of=as_of, exclude_pk=report.pk)
    jumps = survey_jumps(
        programme=report.programme, district=report.district, as_of=as_of, clean=clean, exclude_pk=report.pk
    )
    if jumps and not confirm_jump:
        raise _invalid(jumps, code="confirm_jump")
    before = {f: getattr(report, f) for f in DATA_FIELDS}
    changes = {f: [str(before[f]), str(clean[f])] for f in DATA_FIELDS if before[f] != clean[f]}
    if as_of != report.as_of:
        changes["as_of"] = [str(report.as_of), str(as_of)]
    for field, value in clean.items():
        setattr(report, field, value)
    report.as_of = as_of
    report.jump_confirmed = bool(jumps)
    report.updated_at = timezone.now()
    report.save(update_fields=[*DATA_FIELDS, "as_of", "jump_confirmed", "updated_at"])
    audit_record(user=acting_user, action="survey_update", obj=report, changes=changes)
    return report


def _transition(report: SurveyReport, *, from_states, fields: dict) -> SurveyReport:
    """Move the report with a conditional update: of two clicks (or two reviewers) at
    the same moment only one finds the row still in `from_states`."""
    fields = {**fields, "updated_at": timezone.now()}
    moved = SurveyReport.objects.filter(pk=report.pk, status__in=from_states).update(**fields)
    if moved != 1:
        report.refresh_from_db()
        raise ConflictError(f"报表当前状态为“{report.get_status_display()}”，不能进行此操作，请刷新页面。")
    report.refresh_from_db()
    return report


@transaction.atomic
def survey_submit(*, report: SurveyReport, acting_user: User, confirm_jump: bool = False) -> SurveyReport:
    """The district officer sends the report to the city."""
    if not can_enter(acting_user, report.district):
        raise PermissionDenied(f"只有{report.district.name}的人社专员可以提交本区县的摸排报表。")
    clean, errors = survey_validate(
        programme=report.programme, as_of=report.as_of, data={f: getattr(report, f) for f in DATA_FIELDS}
    )
    if errors:
        raise _invalid(errors)
    if not report.jump_confirmed and not confirm_jump:
        jumps = survey_jumps(
            programme=report.programme, district=report.district, as_of=report.as_of, clean=clean, exclude_pk=report.pk
        )
        if jumps:
            raise _invalid(jumps, code="confirm_jump")
    report = _transition(
        report,
        from_states=EDITABLE,
        fields={
            "status": SurveyStatus.SUBMITTED,
            "submitted_by": acting_user,
            "submitted_at": timezone.now(),
            "jump_confirmed": report.jump_confirmed or confirm_jump,
        },
    )
    audit_record(user=acting_user, action="survey_submit", obj=report)
    _changed_after_commit(report.programme_id)  # the overdue list changes
    return report


@transaction.atomic
def survey_approve(*, report: SurveyReport, acting_user: User) -> SurveyReport:
    """The city approves a submitted report; it then counts on the dashboards."""
    if not can_review(acting_user, report.district):
        raise PermissionDenied("只有所属市级（省直管县由省级）人员可以审核摸排报表。")
    if report.submitted_by_id == acting_user.pk:
        raise PermissionDenied("提交人不能审核自己提交的报表。")
    report = _transition(
        report,
        from_states=[SurveyStatus.SUBMITTED],
        fields={"status": SurveyStatus.APPROVED, "approved_by": acting_user, "approved_at": timezone.now()},
    )
    audit_record(user=acting_user, action="survey_approve", obj=report)
    _changed_after_commit(report.programme_id)
    return report


@transaction.atomic
def survey_return(*, report: SurveyReport, acting_user: User, reason: str) -> SurveyReport:
    """The city sends a submitted (or approved, not yet locked) report back, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise DomainError("退回时请填写退回原因，告诉区县需要修改什么。", errors={"reason": "请填写退回原因。"})
    if not can_review(acting_user, report.district):
        raise PermissionDenied("只有所属市级（省直管县由省级）人员可以退回摸排报表。")
    was_approved = report.status == SurveyStatus.APPROVED
    report = _transition(
        report,
        from_states=[SurveyStatus.SUBMITTED, SurveyStatus.APPROVED],
        fields={
            "status": SurveyStatus.RETURNED,
            "return_reason": reason[:500],
            "returned_by": acting_user,
            "returned_at": timezone.now(),
            "approved_by": None,
            "approved_at": None,
        },
    )
    audit_record(user=acting_user, action="survey_return", obj=report, comment=reason)
    if was_approved:
        _changed_after_commit(report.programme_id)
    return report


@transaction.atomic
def survey_lock(*, report: SurveyReport, acting_user: User) -> SurveyReport:
    """Close an approved report for good (city or province)."""
    if acting_user.role not in (Role.CITY, Role.PROVINCE) and not _is_admin(acting_user):
        raise PermissionDenied("只有市级或省级人员可以锁定摸排报表。")
    if not _in_scope(acting_user, report.district):
        raise PermissionDenied("只能锁定本辖区的摸排报表。")
    report = _transition(
        report,
        from_states=[SurveyStatus.APPROVED],
        fields={"status": SurveyStatus.LOCKED, "locked_by": acting_user, "locked_at": timezone.now()},
    )
    audit_record(user=acting_user, action="survey_lock", obj=report)
    _changed_after_commit(report.programme_id)
    return report


def _audit_values(clean: dict, as_of) -> dict:
    return {"as_of": str(as_of), **{k: str(v) for k, v in clean.items()}}


# --- selectors ----------------------------------------------------------------------------


def survey_overdue(*, programme: Programme, region: Region, today: datetime.date | None = None) -> dict:
    """Districts under `region` that are late with the latest period whose deadline has passed.

    A district is expected to report once it has filed any report for the programme
    up to that period. Returns {"period": Period | None, "rows": [...], "as_of": the day
    lateness is counted to, "ended": whether the programme is over}, rows ordered by
    city and district code.
    """
    today = today or timezone.localdate()
    # Lateness is counted on the programme's calendar: once it has ended nobody grows
    # later (a 2021 report is not "2,077 days" late in 2026), so the day of reference
    # is at most the day after the programme's last day (its last period is then due).
    reference = min(today, programme.end_date + datetime.timedelta(days=1))
    ended = today > programme.end_date
    due = [p for p in survey_periods(programme) if p.deadline < reference]
    if not due:
        return {"period": None, "rows": [], "as_of": reference, "ended": ended}
    period = due[-1]
    # District codes first, then an IN list: a join on the path LIKE misleads the planner
    # when the survey table's statistics are stale.
    # Tuples, not Region instances: a province's 190 districts and their cities as models were
    # a sixth of the survey list's CPU (docs/operations.md "Serving").
    districts = {
        code: (name, parent_name if parent_level == Level.CITY else name)  # Region.city: 定州 is its own city
        for code, name, parent_name, parent_level in Region.objects.filter(
            path__startswith=region.path, level=Level.DISTRICT
        ).values_list("code", "name", "parent__name", "parent__level")
    }
    reports = SurveyReport.objects.filter(
        programme=programme, district_id__in=list(districts), as_of__lte=period.end
    ).values_list("district_id", "as_of", "status")
    expected, filed, in_period, last = set(), set(), {}, {}
    for district_id, as_of, status in reports:
        expected.add(district_id)
        if as_of in period:
            in_period[district_id] = status
            if status in FILED:
                filed.add(district_id)
        if district_id not in last or as_of > last[district_id]:
            last[district_id] = as_of
    late = sorted(expected - filed)
    rows = []
    for code in late:
        district_name, city_name = districts[code]
        status = in_period.get(code)
        rows.append(
            {
                "district": code,
                "district_name": district_name,
                "city_name": city_name,
                "period_start": period.start,
                "period_end": period.end,
                "deadline": period.deadline,
                "days_late": (reference - period.deadline).days,
                "status": SurveyStatus(status).label if status else _("未填报"),
                "last_as_of": last.get(code),
            }
        )
    return {"period": period, "rows": rows, "as_of": reference, "ended": ended}
