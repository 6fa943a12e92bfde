"""Reads on employers and registrations; every one starts from the user's scope."""

from django.db.models import Count, Q, QuerySet

from beneficiaries.choices import EmployerStatus, RegistrationStatus
from beneficiaries.models import Employer, Registration
from programs.choices import ProgrammeStatus
from programs.models import Programme
from regions.models import Region


def _region_path(code: str | None) -> str | None:
    """The materialized path of a region code, or None when there is no such region."""
    code = (code or "").strip()
    if not code:
        return None
    return Region.objects.filter(code=code).values_list("path", flat=True).first() or f"{code}-none/"


def employer_list(user, *, status: str = "", district: str = "", q: str = "") -> QuerySet[Employer]:
    qs = Employer.objects.for_user(user).select_related("district")
    if status in EmployerStatus.values:
        qs = qs.filter(status=status)
    path = _region_path(district)
    if path:
        qs = qs.filter(district__path__startswith=path)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(credit_code__iexact=q.upper()))
    return qs


def employer_get(user, pk) -> Employer:
    """Raises Employer.DoesNotExist when missing or out of scope (views turn it into 404)."""
    return Employer.objects.for_user(user).select_related("district", "verified_by").get(pk=pk)


def employer_registration_counts(employer: Employer) -> dict[str, int]:
    rows = employer.registrations.values("status").annotate(n=Count("id")).order_by()
    return {r["status"]: r["n"] for r in rows}


def registration_list(
    user, *, employer: str | int = "", status: str = "", district: str = "", programme: str = "", category: str = ""
) -> QuerySet[Registration]:
    qs = Registration.objects.for_user(user).select_related("person", "employer", "district", "programme")
    if employer:
        try:
            qs = qs.filter(employer_id=int(employer))
        except (TypeError, ValueError):
            qs = qs.none()
    if status in RegistrationStatus.values:
        qs = qs.filter(status=status)
    path = _region_path(district)
    if path:
        qs = qs.filter(district__path__startswith=path)
    if programme:
        qs = qs.filter(programme__code=programme)
    if category:
        qs = qs.filter(category=category)
    return qs


def registration_get(user, pk) -> Registration:
    return (
        Registration.objects.for_user(user)
        .select_related("person", "employer", "employer__district", "district", "programme")
        .get(pk=pk)
    )


def employers_for_registration(user) -> QuerySet[Employer]:
    """Employers the user may register staff for: an agent's own, an officer's district's."""
    return Employer.objects.for_user(user).exclude(status=EmployerStatus.RETURNED).order_by("name")


def active_programmes() -> QuerySet[Programme]:
    return Programme.objects.filter(status=ProgrammeStatus.ACTIVE).order_by("-start_date", "code")


def all_district_choices() -> QuerySet[Region]:
    """Every district, for choosing where an employer is (its sign-up, a move)."""
    return Region.objects.districts().select_related("parent").order_by("path")


def district_choices(user) -> QuerySet[Region]:
    """Districts in the user's scope, for filters (all of them for an agent's sign-up form)."""
    qs = Region.objects.districts().select_related("parent").order_by("path")
    if user.is_superuser or not user.is_staff_role or user.region_id is None:
        return qs
    return qs.within(user.region)
