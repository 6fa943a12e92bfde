"""The figures a survey report holds, in one list: the survey pages, the API, the
dashboards and the rollups (disbursements) all read these."""

from django.utils import translation

from programs.models import SurveyReport

COUNT_FIELDS = [
    "enterprises_surveyed",
    "outside_workers",
    "outside_other_province",
    "outside_other_city",
    "outside_other_county",
    "staying",
    "staying_on_duty",
    "staying_local",
    "staying_nonlocal",
    "poverty_staying",
    "enterprises_with_benefits",
]
DATA_FIELDS = [*COUNT_FIELDS, "benefits_amount"]
# (whole, parts): the parts together may not exceed the whole.
PART_RULES = [
    ("outside_workers", ["outside_other_province", "outside_other_city", "outside_other_county"]),
    ("staying", ["staying_on_duty"]),
    ("staying", ["staying_local", "staying_nonlocal"]),
    ("staying", ["poverty_staying"]),
    ("enterprises_surveyed", ["enterprises_with_benefits"]),
]
# The counts compared with the previous report for a jump.
JUMP_FIELDS = ["enterprises_surveyed", "outside_workers", "staying"]


def label(field: str) -> str:
    """The field's Chinese name, for messages and the API: those stay Chinese whatever
    the page language (the pages show `display_label`)."""
    with translation.override("zh-hans"):
        return str(SurveyReport._meta.get_field(field).verbose_name)


def display_label(field: str):
    """The field's name in the language of the page (lazy: resolved when rendered)."""
    return SurveyReport._meta.get_field(field).verbose_name
