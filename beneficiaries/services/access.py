"""Who may act on employers and registrations: the checks every service of the app shares."""

from accounts.choices import Role
from accounts.models import User
from accounts.scopes import is_admin
from beneficiaries.models import Employer
from regions.models import Region


def user_covers_region(user: User, region: Region) -> bool:
    """Is `region` inside the staff user's scope (or the user an administrator)?"""
    if is_admin(user):
        return True
    return user.is_staff_role and user.region_id is not None and region.path.startswith(user.region.path)


def is_district_officer_for(user: User, employer: Employer) -> bool:
    """The district HR officer whose district contains the employer (verifies it, resolves conflicts)."""
    return (
        user.is_authenticated
        and user.role == Role.DISTRICT
        and user.region_id is not None
        and employer.district.path.startswith(user.region.path)
    )
