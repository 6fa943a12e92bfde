"""What every file the portal writes for a spreadsheet shares: cells that no spreadsheet
evaluates, and a fixed workbook date so that the same data gives the same bytes."""

from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

# Workbook creation date written into every XLSX: a constant, so re-exports are identical.
FIXED_CREATED = datetime(2021, 1, 21, tzinfo=UTC)
# A cell starting with one of these is read as a formula (or DDE) by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value) -> str:
    """Text that no spreadsheet will evaluate: a leading formula character gets a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def text_workbook(target: Path | BinaryIO, *, title: str, options: dict | None = None):
    """An XLSX workbook (into a file, or a buffer with options {"in_memory": True}) whose
    every cell is written as text (no formula, number or link is guessed from a string),
    with the fixed creation date."""
    import xlsxwriter  # only the exports need it

    workbook = xlsxwriter.Workbook(
        target if hasattr(target, "write") else str(target),
        {"strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False, **(options or {})},
    )
    workbook.set_properties({"title": title, "author": "稳岗留工管理平台", "created": FIXED_CREATED})
    return workbook


def write_header(sheet, row: int, titles: list[str], style) -> None:
    for col, title in enumerate(titles):
        sheet.write_string(row, col, title, style)
