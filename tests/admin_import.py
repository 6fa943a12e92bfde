"""Drive django-import-export's admin import as a superuser does: upload a file (the dry
run shows every row), then confirm."""

import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

CSV = "0"  # the admins' formats are [CSV, XLSX]


def csv_file(rows: list[list[str]], name: str = "import.csv") -> SimpleUploadedFile:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return SimpleUploadedFile(name, buf.getvalue().encode("utf-8"), content_type="text/csv")


def dry_run(client, model: str, rows: list[list[str]]):
    """`model` is "app_model" (e.g. "regions_region"); returns the dry run's response."""
    return client.post(reverse(f"admin:{model}_import"), {"format": CSV, "import_file": csv_file(rows)})


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
