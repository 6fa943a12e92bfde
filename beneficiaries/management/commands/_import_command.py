"""What the import commands (import_workers, import_employers) share: run the import,
write the JSON report of every row, say the result. (A leading underscore: Django does
not take this module for a command.)"""

from collections.abc import Callable

from django.core.management.base import CommandError

from beneficiaries.importer.reports import write_json_report
from beneficiaries.importer.result import ImportResult
from core.errors import DomainError


def run_import_command(run: Callable[[], ImportResult], *, file: str, report: str | None) -> str:
    """Run the import; a missing or unreadable file is a CommandError. Returns the
    result's message once the report (if asked for) is written."""
    try:
        result = run()
    except FileNotFoundError as exc:
        raise CommandError(f"文件不存在：{file}") from exc
    except DomainError as exc:
        raise CommandError(exc.message) from exc
    try:
        if report:
            with open(report, "w", encoding="utf-8") as fp:
                write_json_report(fp, result.outcomes)
    finally:
        result.cleanup()
    return result.message
