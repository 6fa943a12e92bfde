"""The one scoping pattern every read starts from.

Each scoped model's QuerySet has `for_user(user)`, built on `scope_q`: province,
city and district staff see what lies in their region's subtree; an employer agent
sees what belongs to its employer(s); a superuser sees everything; anybody else
sees nothing. An object outside the scope is then simply not found (404).
"""

from django.db.models import Q

from accounts.choices import Role

NOTHING = Q(pk__in=[])


def scope_q(user, *, region: str | None, employer: str | None = None) -> Q:
    """A filter for `user`'s scope.

    `region` is the lookup path from the model to its Region (e.g. "district"),
    `employer` the path to its Employer (e.g. "employer", or "" for Employer itself);
    either may be None when
    the model has no such link, in which case that kind of user sees nothing.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if user.is_superuser or user.role == Role.ADMIN:
        return Q()
    if user.role in (Role.PROVINCE, Role.CITY, Role.DISTRICT):
        if region is None or user.region_id is None:
            return NOTHING
        return Q(**{f"{region}__path__startswith": user.region.path})
    if user.role == Role.EMPLOYER:
        if employer is None:
            return NOTHING
        # employer="" means the model *is* the employer.
        return Q(**{f"{employer}__agents" if employer else "agents": user})
    return NOTHING


def regions_q(user, *, region: str = "") -> Q:
    """Filter for Region rows (or a model's Region link) that the user may see."""
    prefix = f"{region}__" if region else ""
    if user is None or not user.is_authenticated:
        return NOTHING
    if user.is_superuser or user.role == Role.ADMIN:
        return Q()
    if user.region_id is None:
        return NOTHING
    return Q(**{f"{prefix}path__startswith": user.region.path})
