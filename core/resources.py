"""django-import-export pieces every app's resources.py uses.

- Widgets: money as "1234.50" both ways (never through float), dates ISO, a choice
  written as its Chinese label and read back from the label or the code.
- `ServiceResource`: an admin import that writes through the app's services (the
  permission check and the audit row with old and new values come with them), never
  through `instance.save()`; a service's refusal becomes the row's error.
- `ImportExportAdminMixin`: the admin side (CSV and XLSX, superusers import, a file with a
  refused row writes nothing).
- `export_response`: the officers' list exports (employers, registrations, the audit
  trail) as CSV or XLSX. Every cell is written as text, so a spreadsheet never reads an
  ID or credit code as a number (losing digits) nor any cell as a formula.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.http import HttpResponse
from import_export import resources, widgets
from import_export.admin import ImportExportMixin
from import_export.formats import base_formats

from core.errors import DomainError
from core.money import MoneyError, format_yuan, to_yuan
from core.spreadsheets import safe_cell, text_workbook

# The most rows one list export carries: a district's lists stay far below it.
EXPORT_MAX = 100_000
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class MoneyWidget(widgets.Widget):
    """Yuan with two places: "1234.50" out; in, a cell is read as `to_yuan(str(cell))`."""

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return None
        try:
            return to_yuan(str(value))
        except MoneyError as exc:
            raise ValueError(str(exc)) from None

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else format_yuan(value)


class IsoDateWidget(widgets.Widget):
    """A date as 2021-02-11 (a spreadsheet's date cell is read as its date)."""

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(str(value).strip()[:10])
        except ValueError:
            raise ValueError(f"“{value}”不是日期（应为 2021-02-11 这样的格式）") from None

    def render(self, value, obj=None, **kwargs):
        return value.isoformat() if value else ""


class IsoDateTimeWidget(widgets.Widget):
    """A moment as 2021-02-11 09:30:00 in the portal's time zone (export only)."""

    def render(self, value, obj=None, **kwargs):
        from django.utils import timezone

        return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}" if value else ""


class ChoiceWidget(widgets.Widget):
    """A choice written as its label (私营/非公); read back from the label or the code."""

    def __init__(self, choices, **kwargs):
        super().__init__(**kwargs)
        self.choices = choices

    def clean(self, value, row=None, **kwargs):
        text = "" if value is None else str(value).strip()
        if not text:
            return ""
        for code, label in self.choices.choices:
            if text in (code, str(label)):
                return code
        raise ValueError(f"“{text}”不是可选的值（可选：{'、'.join(str(label) for _, label in self.choices.choices)}）")

    def render(self, value, obj=None, **kwargs):
        if not value:
            return ""
        try:
            return str(self.choices(value).label)
        except ValueError:
            return str(value)


class JsonWidget(widgets.JSONWidget):
    """Structured data (a rule's conditions, tiers) as JSON text; a blank cell is `empty`."""

    def __init__(self, empty, **kwargs):
        super().__init__(**kwargs)
        self.empty = empty

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return type(self.empty)()
        try:
            return json.loads(str(value))
        except json.JSONDecodeError:
            raise ValueError(f"“{value}”不是有效的 JSON") from None

    def render(self, value, obj=None, **kwargs):
        return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


class LookupWidget(widgets.ForeignKeyWidget):
    """A row referring to another by its code; an unknown code is the cell's error."""

    def clean(self, value, row=None, **kwargs):
        try:
            return super().clean(str(value).strip() if value is not None else value, row, **kwargs)
        except self.model.DoesNotExist:
            raise ValueError(f"“{value}”不存在") from None


class ServiceResource(resources.ModelResource):
    """A resource whose import writes each row through a service, never `instance.save()`.

    Subclasses implement `service_save(instance, *, is_create, acting_user)` and return the
    row as saved. The admin's dry run runs the services too, inside the import's
    transaction, which is rolled back: what the confirm step will write, and every row
    a service refuses, are shown before anything is written. On confirm a refused row
    rolls the whole file back (the admins pass rollback_on_validation_errors).
    """

    def service_save(self, instance, *, is_create: bool, acting_user):
        raise NotImplementedError

    def save_instance(self, instance, is_create, row, **kwargs):
        self.before_save_instance(instance, row, **kwargs)
        try:
            saved = self.service_save(instance, is_create=is_create, acting_user=kwargs.get("user"))
        except DomainError as exc:
            raise ValidationError(self._row_errors(exc)) from None
        instance.pk = saved.pk
        self.after_save_instance(instance, row, **kwargs)

    def _row_errors(self, exc: DomainError) -> dict:
        """The service's errors by column where it names one of this resource's fields."""
        found = {NON_FIELD_ERRORS: [exc.message]}
        if isinstance(exc.errors, dict):
            for name, message in exc.errors.items():
                if name in self.fields:
                    found[name] = [str(message)]
        return found


class ImportExportAdminMixin(ImportExportMixin):
    """Import and export buttons on an admin list. Import is a dry run first (every row's
    outcome and error shown), then a confirm; both run in one transaction
    (IMPORT_EXPORT_USE_TRANSACTIONS), and the confirm rolls the whole file back if any row
    is refused, so that a file is written whole or not at all."""

    import_formats = [base_formats.CSV, base_formats.XLSX]
    export_formats = [base_formats.CSV, base_formats.XLSX]

    def has_import_permission(self, request):
        return request.user.is_superuser  # the reference data's keeper (docs: who uses it)

    def get_import_data_kwargs(self, **kwargs):
        kwargs = super().get_import_data_kwargs(**kwargs)
        # A row refused between the dry run and the confirm (the data changed meanwhile)
        # would otherwise be skipped while the others are written.
        kwargs.setdefault("rollback_on_validation_errors", True)
        return kwargs


def export_file(resource: resources.Resource, queryset, fmt: str, *, title: str) -> tuple[bytes, int]:
    """The rows of `queryset` as the resource writes them, as a CSV (UTF-8 with a BOM, so
    that Excel reads the Chinese) or XLSX file; returns the file and its row count."""
    dataset = resource.export(queryset)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(dataset.headers)
        for row in dataset:
            writer.writerow([safe_cell(value) for value in row])
        return buf.getvalue().encode("utf-8-sig"), dataset.height
    buf = io.BytesIO()
    book = text_workbook(buf, title=title, options={"in_memory": True})
    sheet = book.add_worksheet(title[:31])
    bold = book.add_format({"bold": True})
    for c, head in enumerate(dataset.headers):
        sheet.write_string(0, c, str(head), bold)
    for r, row in enumerate(dataset, start=1):
        for c, value in enumerate(row):
            if value not in (None, ""):
                sheet.write_string(r, c, str(value))
    sheet.set_column(0, max(len(dataset.headers) - 1, 0), 16)
    sheet.freeze_panes(1, 0)
    book.close()
    return buf.getvalue(), dataset.height


def export_response(resource, queryset, fmt: str, *, filename: str, title: str) -> tuple[HttpResponse, int]:
    """An attachment response with the file; `fmt` is "csv" or "xlsx"."""
    body, count = export_file(resource, queryset, fmt, title=title)
    response = HttpResponse(body, content_type=CONTENT_TYPES[fmt])
    response["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response, count
