"""The survey list's table rows, rendered in Python.

The province's survey list was its heaviest officer page: fifty rows of seven cells, each value
resolved, localized, filtered (`grouped`) and escaped by the template engine. `format_html`
escapes the same values for a fraction of that, as the registrations list's rows already do
(beneficiaries/templatetags/registration_rows.py; docs/operations.md "Serving"). The markup is
what the template had.
"""

from django import template
from django.utils.html import format_html_join

from core.formats import grouped

register = template.Library()

ROW = (
    '\n  <tr>\n    <td><a href="{}{}/">{}</a></td>\n    <td>{}{}</td>\n'
    '    <td class="text-end">{}</td>\n    <td class="text-end">{}</td>\n    <td class="text-end">{}</td>\n'
    '    <td class="text-end">{} / {}</td>\n    <td><span class="badge {}">{}</span></td>\n  </tr>\n  '
)
BADGE = {"approved": "text-bg-success", "locked": "text-bg-success", "returned": "text-bg-danger"}
BADGE["submitted"] = "text-bg-primary"


@register.simple_tag
def survey_rows(rows, list_url):
    """`rows` as survey_list builds them (dicts); names and labels are escaped by format_html."""

    def cells(r):
        return (
            list_url, r["pk"], r["as_of"].isoformat(),  # the template's |date:"Y-m-d"
            f"{r['city_name']} · " if r["city_name"] else "", r["district_name"],
            grouped(r["enterprises_surveyed"]), grouped(r["outside_workers"]), grouped(r["staying"]),
            grouped(r["staying_local"]), grouped(r["staying_nonlocal"]),
            BADGE.get(r["status"], "text-bg-secondary"), r["status_label"],
        )  # fmt: skip

    return format_html_join("", ROW, (cells(r) for r in rows))
