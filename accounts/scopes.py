"""The one scoping pattern every read starts from.

Each scoped model's QuerySet has `for_user(user)`, built on `scope_q`: province,
city and district staff see what lies in their region's subtree; an employer agent
sees what belongs to its employer(s); a superuser sees everything; anybody else
sees nothing. An object outside the scope is then simply not found (404).
"""

from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.translation import gettext

from accounts.choices import Role
from regions.selectors import NOTHING


def scope_q(user, *, region: str | None, employer: str | None = None) -> Q:
    """A filter for `user`'s scope.

    `region` is the lookup path from the model to its Region (e.g. "district"),
    `employer` the path to its Employer (e.g. "employer", or "" for Employer itself);
    either may be None when
    the model has no such link, in which case that kind of user sees nothing.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return NOTHING
    if is_admin(user):
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


STAFF_ROLES = (Role.PROVINCE, Role.CITY, Role.DISTRICT, Role.ADMIN)


def is_admin(user) -> bool:
    """The superuser or the system administrator: everything is in their scope. The one
    place this is decided (`User.sees_everything` asks it too)."""
    return bool(user.is_superuser or user.role == Role.ADMIN)


def is_staff_user(user) -> bool:
    """Staff of an HR department (province, city, district) or an administrator: who may
    use the officers' pages. The one place this is decided."""
    return bool(user.is_superuser or user.role in STAFF_ROLES)


def require_staff(user) -> None:
    """Pages of the HR departments: another role gets the friendly 403 page (templates/403.html)
    saying whose page it is. This is about the page, not an object: no existence leaks,
    so 403 here, while an object outside one's scope stays 404."""
    if is_staff_user(user):
        return
    raise PermissionDenied(
        gettext("此页面供人社部门工作人员使用，%(role)s不能使用。") % {"role": Role(user.role).label}
    )
