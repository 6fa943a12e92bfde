"""Employers are told when the district officer sends them back for correction (issue 17,
point 3): their agents get an in-app message with the officer's reason and a link to fix it."""

from django.urls import reverse

from accounts.choices import NotificationEvent
from accounts.services.notifications import in_app, notify
from beneficiaries.models import Employer


def employer_returned_notify(*, employer_id: int, audit_id: int) -> None:
    employer = Employer.objects.get(pk=employer_id)
    params = {"employer": employer.name, "reason": employer.return_reason}
    link = reverse("beneficiaries:employer_detail", args=[employer.pk])
    notify(
        in_app(
            event=NotificationEvent.EMPLOYER_RETURNED,
            # One message per return (its audit row), however often the page is re-posted.
            key=f"employer:{employer.pk}:return:{audit_id}",
            user=agent_id,
            params=params,
            link=link,
            region_id=employer.district_id,
            obj=employer,
        )
        for agent_id in employer.agents.filter(is_active=True).values_list("id", flat=True)
    )
