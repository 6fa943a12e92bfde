"""What the app's commands read from their arguments: a programme by code, a region by
code, each refused with the code that was not found."""

from django.core.management.base import CommandError

from programs.models import Programme
from regions.models import Region


def programme_arg(code: str) -> Programme:
    programme = Programme.objects.filter(code=code).first()
    if programme is None:
        raise CommandError(f"找不到项目 {code}")
    return programme


def region_arg(code: str | None) -> Region | None:
    """The region of `code`, or None when none was given."""
    if not code:
        return None
    region = Region.objects.filter(code=code).first()
    if region is None:
        raise CommandError(f"找不到区划 {code}")
    return region
