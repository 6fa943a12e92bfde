"""What every file the portal writes for a spreadsheet shares: cells that no spreadsheet
evaluates, and a fixed workbook date so that the same data gives the same bytes."""

from datetime import UTC, datetime

# Workbook creation date written into every XLSX: a constant, so re-exports are identical.
FIXED_CREATED = datetime(2021, 1, 21, tzinfo=UTC)
# A cell starting with one of these is read as a formula (or DDE) by spreadsheet programs.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def safe_cell(value: str) -> str:
    """Text that no spreadsheet will evaluate: a leading formula character gets a quote."""
    if value and value.startswith(FORMULA_START):
        return "'" + value
    return value
