"""The audit trail in the portal (/audit/): which entries a user may read, filters, export.

Reads every app (hence here, on the top floor). Scope: provincial staff and
superusers read everything; city and district staff read what was done by users of
their region or to the objects of their region (batches and their lines, employers,
registrations, surveys); an employer agent reads nothing here.
"""

import datetime as dt

from django.db.models import CharField, Q, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from accounts.audit_display import ACTION_LABELS, OBJECT_LABELS
from accounts.choices import Role
from accounts.models import AuditEntry, User
from accounts.scopes import is_admin, is_staff_user
from beneficiaries.models import Employer, Registration
from disbursements.models import Batch, PaymentLine
from programs.models import SurveyReport
from regions.choices import Level


def _ids(qs) -> QuerySet:
    return qs.annotate(sid=Cast("id", CharField())).values("sid")


def audit_for_user(user) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.select_related("user", "user__region")
    if is_admin(user):
        return qs
    if user.role not in (Role.PROVINCE, Role.CITY, Role.DISTRICT) or user.region_id is None:
        return qs.none()
    if user.region.level == Level.PROVINCE:
        return qs
    path = user.region.path
    return qs.filter(
        Q(user__region__path__startswith=path)
        | Q(object_type="disbursements.batch", object_id__in=_ids(Batch.objects.for_user(user)))
        | Q(
            object_type="disbursements.paymentline",
            object_id__in=_ids(PaymentLine.objects.filter(batch__district__path__startswith=path)),
        )
        | Q(object_type="beneficiaries.employer", object_id__in=_ids(Employer.objects.for_user(user)))
        | Q(object_type="beneficiaries.registration", object_id__in=_ids(Registration.objects.for_user(user)))
        | Q(object_type="programs.surveyreport", object_id__in=_ids(SurveyReport.objects.for_user(user)))
    )


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat((value or "").strip())
    except ValueError:
        return None


def audit_filter(
    qs, *, who: str = "", action: str = "", object_type: str = "", object_id: str = "", since="", until=""
):
    """Filters of the page: who (login or name, part of it), what (the action), which
    object (type and id), and dates (inclusive, in the portal's time zone)."""
    who = (who or "").strip()
    if who:
        qs = qs.filter(
            Q(user__username__icontains=who) | Q(user__first_name__contains=who) | Q(user__last_name__contains=who)
        )
    if action in ACTION_LABELS:
        qs = qs.filter(action=action)
    if object_type in OBJECT_LABELS:
        qs = qs.filter(object_type=object_type)
        if object_id.strip():
            qs = qs.filter(object_id=object_id.strip())
    start, end = _date(since), _date(until)
    tz = timezone.get_current_timezone()
    if start:
        qs = qs.filter(at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=tz))
    if end:
        qs = qs.filter(at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, tzinfo=tz))
    return qs


def user_may_read_audit(user: User) -> bool:
    return is_staff_user(user)
