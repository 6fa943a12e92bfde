"""Reporting periods of survey reports, their deadlines, and who is late.

Kept simple on purpose: a programme is cut into periods of SURVEY_PERIOD_DAYS days
(default 7). With weekly periods each period ends on the SURVEY_DUE_WEEKDAY (0 = Monday
… 4 = Friday, the default) and the last one ends on the programme's end date. A report
belongs to the period its as-of date falls in, one per district and period; it is due
by the period's last day plus SURVEY_GRACE_DAYS (default 0). A district that has filed
for the programme before and has nothing submitted for the latest period whose deadline
has passed is overdue.
"""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from programs.choices import SURVEY_FILED, SurveyStatus
from programs.models import Programme, SurveyReport
from regions.choices import Level
from regions.models import Region


@dataclass(frozen=True)
class Period:
    start: datetime.date
    end: datetime.date

    @property
    def deadline(self) -> datetime.date:
        return self.end + datetime.timedelta(days=settings.SURVEY_GRACE_DAYS)

    def __contains__(self, day: datetime.date) -> bool:
        return self.start <= day <= self.end


def survey_periods(programme: Programme) -> list[Period]:
    """The programme's reporting periods, in order (see the module docstring)."""
    days = settings.SURVEY_PERIOD_DAYS
    weekday = settings.SURVEY_DUE_WEEKDAY
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
            if status in SURVEY_FILED:
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
