"""Reminders of overdue 摸排 reports (issue 17, point 3): beat runs this once a day.

Each district late with the latest due period is told through its officers' bells. The
key names the programme, district, period and day, so a district is reminded at most once
a day per overdue report however often the task runs (a retried or doubled beat), and the
reminders stop once the report is filed or the programme has ended.
"""

import datetime

from django.urls import reverse
from django.utils import timezone

from accounts.choices import NotificationEvent, Role
from accounts.models import User
from accounts.services.notifications import in_app, notify
from programs.choices import ProgrammeStatus
from programs.models import Programme
from programs.surveys.periods import survey_overdue


def surveys_overdue_notify(*, today: datetime.date | None = None) -> int:
    """Remind the officers of every late district; returns the messages handed to the outbox."""
    today = today or timezone.localdate()
    link = reverse("programs:survey_list")
    count = 0
    programmes = Programme.objects.filter(status=ProgrammeStatus.ACTIVE, start_date__lte=today).select_related("region")
    for programme in programmes:
        overdue = survey_overdue(programme=programme, region=programme.region, today=today)
        if overdue["ended"] or not overdue["rows"]:
            continue  # an ended programme's late reports are a matter for the record, not a daily nag
        late = {row["district"]: row for row in overdue["rows"]}
        officers = User.objects.filter(is_active=True, role=Role.DISTRICT, region_id__in=list(late)).values_list(
            "id", "region_id"
        )
        messages = []
        for user_id, district in officers:
            row = late[district]
            params = {
                "district": row["district_name"],
                "period_end": row["period_end"].isoformat(),
                "deadline": row["deadline"].isoformat(),
                "days": row["days_late"],
            }
            messages.append(
                in_app(
                    event=NotificationEvent.SURVEY_OVERDUE,
                    key=f"survey:{programme.pk}:{district}:{row['period_end']:%Y%m%d}:{today:%Y%m%d}",
                    user=user_id,
                    params=params,
                    link=link,
                    region_id=district,
                )
            )
        count += len(messages)
        notify(messages)
    return count
