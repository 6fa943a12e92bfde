"""Reads of programmes and rules, always from the user's scope (out of scope = 404)."""

from django.db.models import Q
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.choices import Role
from accounts.scopes import is_admin
from programs.models import Programme, SubsidyRule


def programmes_for(user):
    """Programmes a staff user works in: those whose region contains theirs or lies in it."""
    qs = Programme.objects.select_related("region")
    if user is None or not user.is_authenticated:
        return qs.none()
    if is_admin(user):
        return qs
    if user.role not in (Role.PROVINCE, Role.CITY, Role.DISTRICT) or user.region_id is None:
        return qs.none()
    path = user.region.path
    ancestors = [path[: i + 7] for i in range(0, len(path), 7)]
    return qs.filter(Q(region__path__in=ancestors) | Q(region__path__startswith=path))


def programme_get(user, code: str) -> Programme:
    return get_object_or_404(programmes_for(user), code=code)


def rules_for(user, *, programme: Programme | None = None, status: str = ""):
    qs = SubsidyRule.objects.for_user(user).select_related("programme", "region")
    if programme is not None:
        qs = qs.filter(programme=programme)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("programme__code", "priority", "rule_key", "-version")


def rule_get(user, pk: int | str) -> SubsidyRule:
    # A non-numeric or overlong id is simply not found (the query would raise, a 500).
    if not str(pk).isdigit() or len(str(pk)) > 18:
        raise Http404
    return get_object_or_404(rules_for(user), pk=pk)


def rule_versions(rule: SubsidyRule):
    return SubsidyRule.objects.filter(programme=rule.programme, rule_key=rule.rule_key).order_by("-version")
