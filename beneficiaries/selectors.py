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


def registration_search(qs: QuerySet[Registration], q: str) -> QuerySet[Registration]:
    """Narrow scoped registrations by what an officer types in one box:

    - a whole ID number (18 digits, or an old 15-digit one): the person's blind index,
      nothing is decrypted and no partial number is ever matched;
    - a 统一社会信用代码 (18 characters): the employer;
    - an 11-digit mobile number: the person's phone blind index (the number is stored
      encrypted; only the whole number is matched);
    - 4 to 6 digits: the tail of the bank account (the masked account keeps the last
      four digits in the clear by design);
    - anything else: part of the person's name (a prefix is a part too) or of the
      employer's name.

    A phone tail alone is not searched: its keyed digest is bound to the person (so
    that the four digits cannot be looked up across people), and there is nothing to
    index across people.
    """
    from beneficiaries import pii
    from beneficiaries.idcard import IdNumberError, validate_id_number

    text = "".join(str(q or "").split())  # as typed, for names
    q = pii.normalize(q)  # full-width folded, upper case, for numbers
    if not q:
        return qs
    if len(q) in (15, 18) and q[:-1].isdigit() and (q[-1].isdigit() or q[-1] == "X"):
        try:
            number = validate_id_number(q).number
        except IdNumberError:
            number = q
        found = Q(person__id_hash=pii.blind_index(number))
        if len(q) == 18:
            # A credit code can be all digits too (its check character is 0–9 or a
            # letter): both exact matches are looked up, each through its index.
            found |= Q(employer__credit_code=q)
        return qs.filter(found)
    if len(q) == 18 and q.isalnum() and q.isascii():
        return qs.filter(employer__credit_code=q)
    if len(q) == 11 and q.isdigit() and q.startswith("1"):
        return qs.filter(person__phone_hash=pii.blind_index(q))
    if q.isdigit() and 4 <= len(q) <= 6:
        return qs.filter(account_masked__endswith=q[-4:])
    return qs.filter(Q(person__name__contains=text) | Q(employer__name__contains=text))


def registration_list(
    user,
    *,
    employer: str | int = "",
    status: str = "",
    district: str = "",
    programme: str = "",
    category: str = "",
    q: str = "",
) -> QuerySet[Registration]:
    qs = Registration.objects.for_user(user).select_related("person", "employer", "district", "programme")
    if q:
        qs = registration_search(qs, q)
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
