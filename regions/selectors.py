"""Reads of the region tree."""

from django.db.models import Q

NOTHING = Q(pk__in=[])


def regions_q(user, *, region: str = "") -> Q:
    """Filter for Region rows (or a model's Region link, `region`) that the user may see.

    The user says which subtree through `region_scope_path` (accounts.User): "" the whole
    tree, a region's path its subtree, None nothing. Regions sit below accounts, so they read
    that one property instead of knowing roles."""
    if user is None or not user.is_authenticated:
        return NOTHING
    path = user.region_scope_path
    if path is None:
        return NOTHING
    if path == "":
        return Q()
    prefix = f"{region}__" if region else ""
    return Q(**{f"{prefix}path__startswith": path})
