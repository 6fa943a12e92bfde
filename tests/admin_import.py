"""Drive django-import-export's admin import as a superuser does: upload a file (the dry
run shows every row), then confirm."""

import csv
import datetime as dt
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

CSV, XLSX = "0", "1"  # the admins' formats are [CSV, XLSX]


def csv_file(rows: list[list[str]], name: str = "import.csv") -> SimpleUploadedFile:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return SimpleUploadedFile(name, buf.getvalue().encode("utf-8"), content_type="text/csv")


def xlsx_file(rows: list[list], name: str = "import.xlsx") -> SimpleUploadedFile:
    """Cells keep their Python type: a float is a number cell, a date a date cell."""
    import xlsxwriter

    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True})
    sheet = book.add_worksheet()
    dates = book.add_format({"num_format": "yyyy-mm-dd"})
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), dates)
            else:
                sheet.write(r, c, value)
    book.close()
    return SimpleUploadedFile(name, buf.getvalue(), content_type="application/vnd.ms-excel")


def dry_run(client, model: str, rows: list[list], *, xlsx: bool = False):
    """`model` is "app_model" (e.g. "regions_region"); returns the dry run's response."""
    upload = xlsx_file(rows) if xlsx else csv_file(rows)
    return client.post(reverse(f"admin:{model}_import"), {"format": XLSX if xlsx else CSV, "import_file": upload})


def confirm(client, model: str, response):
    """Post the confirm form the dry run offered."""
    form = response.context.get("confirm_form")
    assert form is not None, "the dry run offered no confirm (a row was refused)"
    return client.post(reverse(f"admin:{model}_process_import"), form.initial)


def row_errors(response) -> list[str]:
    """Every row's refusal, as the dry run page lists it."""
    result = response.context["result"]
    found = [str(e.error) for row in result.rows for e in row.errors]
    for invalid in result.invalid_rows:
        for messages in invalid.error_dict.values():
            found += [str(m) for m in messages]
    return found
