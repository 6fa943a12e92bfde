"""The writes of survey reports (摸排): create, update, submit, approve, return, lock.

Every write is audited (accounts.services.audit_record) and a change of what the
dashboards show (approve, return, lock) sends `survey_changed`, which the rollups
(disbursements, a higher app) listen to.
"""

import datetime
import threading
from contextlib import contextmanager

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from accounts.choices import Role
from accounts.models import User
from accounts.scopes import is_admin
from accounts.services.audit import audit_record
from core.errors import ConflictError, DomainError, PermissionDenied
from programs.choices import SURVEY_EDITABLE, SurveyStatus
from programs.models import Programme, SurveyReport
from programs.surveys.fields import DATA_FIELDS
from programs.surveys.periods import survey_period_of
from programs.surveys.validate import survey_jumps, survey_validate
from regions.choices import Level
from regions.models import Region

# Sent (after commit) with programme_id when what the dashboards show may have changed
# (approved figures, the overdue list): on submit, approve, return and lock. With
# district_code for one report (its district's figures are refreshed), None for a batch
# of them (survey_changes_batched: the programme's).
survey_changed = Signal()


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
                _changed_after_commit(programme_id, None)


def _changed_after_commit(programme_id: int, district_code: str | None) -> None:
    pending = getattr(_batched, "pending", None)
    if pending is not None:
        pending.add(programme_id)
        return
    transaction.on_commit(
        lambda: survey_changed.send(sender=SurveyReport, programme_id=programme_id, district_code=district_code)
    )


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
    if report.status not in SURVEY_EDITABLE:
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
        from_states=SURVEY_EDITABLE,
        fields={
            "status": SurveyStatus.SUBMITTED,
            "submitted_by": acting_user,
            "submitted_at": timezone.now(),
            "jump_confirmed": report.jump_confirmed or confirm_jump,
        },
    )
    audit_record(user=acting_user, action="survey_submit", obj=report)
    _changed_after_commit(report.programme_id, report.district_id)  # the overdue list changes
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
    _changed_after_commit(report.programme_id, report.district_id)
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
        _changed_after_commit(report.programme_id, report.district_id)
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
    _changed_after_commit(report.programme_id, report.district_id)
    return report


def _audit_values(clean: dict, as_of) -> dict:
    return {"as_of": str(as_of), **{k: str(v) for k, v in clean.items()}}
