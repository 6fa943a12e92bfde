"""The registrations list's table rows, rendered in Python.

The list is the page officers open most (a fifth of their requests in the load bench), and its
fifty rows were most of its CPU: nine template variables and two `{% if %}` per row, each
resolved, localized and escaped by the template engine. `format_html` escapes the same values
for a fraction of that (docs/operations.md "Serving"). The markup is what the template had.
"""

from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

ROW = (
    '<tr{}>\n      <td><a href="{}{}/">{}</a></td>\n      <td><code>{}</code></td>\n'
    '      <td class="d-none d-md-table-cell">{}</td>\n      <td class="d-none d-lg-table-cell">{}</td>\n'
    '      <td class="d-none d-lg-table-cell">{}</td>\n      <td class="d-none d-md-table-cell">{}</td>\n'
    "      <td>{}</td>\n    </tr>\n"
)
BADGE = {"conflict": "text-bg-warning", "active": "text-bg-success"}


@register.simple_tag
def registration_rows(rows, list_url, is_staff, resolve_label):
    """`rows` as registration_list builds them (dicts); the person's name, the employer and the rest
    are escaped by format_html."""

    def cells(r):
        status = format_html(
            '<span class="badge {}">{}</span>', BADGE.get(r["status"], "text-bg-secondary"), r["status_label"]
        )
        if r["status"] == "conflict" and is_staff:
            status = format_html(
                '{} <a class="btn btn-outline-warning btn-sm" href="{}{}/#conflicts">{}</a>',
                status, list_url, r["pk"], resolve_label,
            )  # fmt: skip
        return (
            mark_safe(' class="table-warning"') if r["status"] == "conflict" else "",
            list_url, r["pk"], r["person"]["name"], r["person"]["id_masked"], r["employer"]["name"],
            r["district"]["name"], r["stay_span"], r["category_label"], status,
        )  # fmt: skip

    return format_html_join("", ROW, (cells(r) for r in rows))
