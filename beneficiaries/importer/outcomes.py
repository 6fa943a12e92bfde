"""Every row's outcome, kept on disk so that a million-row file costs no memory.

Validation writes one line per data row, in file order: the row number, and for a
rejected row its errors as JSON. Checks that need the database (run after all rows
are read) add late rejections, also in row order, to a second file; reading merges
the two. In memory stay only the counts and the first `keep` errors, which is what
a preview page shows.
"""

import heapq
import json
from collections.abc import Iterator
from pathlib import Path

from core.private_files import open_private, private_dir

Errors = list[tuple[str, str]]  # [(column header, Chinese message)]


def accepted_line(row_no: int) -> str:
    """An accepted row's line in the outcome file."""
    return f"{row_no}\n"


def rejected_line(row_no: int, errors: Errors) -> str:
    """A rejected row's line: its number and its errors as JSON."""
    return f"{row_no}\t{json.dumps(errors, ensure_ascii=False)}\n"


class Outcomes:
    def __init__(self, directory: Path, *, keep: int = 500):
        private_dir(directory)
        self.path = directory / "outcomes.tsv"
        self.late_path = directory / "late.tsv"
        self.keep = keep
        self.total = 0
        self.rejected = 0
        self.first_errors: list[dict] = []
        self._f = open_private(self.path, "w", encoding="utf-8")
        self._late = None
        self._late_rows: set[int] = set()
        self._last_late = 0

    @property
    def accepted(self) -> int:
        return self.total - self.rejected

    def accept(self, row_no: int) -> None:
        self.total += 1
        self._f.write(accepted_line(row_no))

    def reject(self, row_no: int, errors: Errors) -> None:
        self.total += 1
        self.rejected += 1
        self._f.write(rejected_line(row_no, errors))
        self._remember(row_no, errors)

    def extend(self, text: str, *, rows: int, rejects: list[tuple[int, Errors]]) -> None:
        """The outcomes of `rows` consecutive rows at once: `text` is their lines
        (accepted_line, rejected_line), `rejects` the rejected ones among them."""
        self._f.write(text)
        self.total += rows
        self.rejected += len(rejects)
        for row_no, errors in rejects:
            self._remember(row_no, errors)

    def reject_late(self, row_no: int, errors: Errors) -> None:
        """Reject a row that passed validation (a database check failed); rows must come
        in ascending order, each at most once."""
        if row_no <= self._last_late:
            raise ValueError("late rejections must come in ascending row order")
        if self._late is None:
            self._late = open_private(self.late_path, "w", encoding="utf-8")
        self._last_late = row_no
        self.rejected += 1
        self._late.write(f"{row_no}\t{json.dumps(errors, ensure_ascii=False)}\n")
        self._remember(row_no, errors)
        self.first_errors.sort(key=lambda e: e["row"])
        del self.first_errors[self.keep :]

    def _remember(self, row_no: int, errors: Errors) -> None:
        if len(self.first_errors) < self.keep or row_no < self.first_errors[-1]["row"]:
            self.first_errors.append({"row": row_no, "errors": [{"column": c, "message": m} for c, m in errors]})

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()
        if self._late is not None and not self._late.closed:
            self._late.close()

    def __iter__(self) -> Iterator[tuple[int, Errors | None]]:
        """(row number, errors or None) for every data row, in row order."""
        self.close()
        streams = [_read(self.path, late=False)]
        if self.late_path.exists():
            streams.append(_read(self.late_path, late=True))
        current_row, current = None, None
        for row_no, _late, errors in heapq.merge(*streams, key=lambda t: (t[0], t[1])):
            if row_no != current_row:
                if current_row is not None:
                    yield current_row, current
                current_row, current = row_no, errors
            elif errors:
                current = (current or []) + errors
        if current_row is not None:
            yield current_row, current

    def rejected_rows(self) -> Iterator[tuple[int, Errors]]:
        for row_no, errors in self:
            if errors:
                yield row_no, errors

    def summary_errors(self) -> list[dict]:
        return list(self.first_errors)


def _read(path: Path, *, late: bool):
    with open(path, encoding="utf-8") as f:
        for line in f:
            row, _, rest = line.rstrip("\n").partition("\t")
            errors = [tuple(e) for e in json.loads(rest)] if rest else None
            yield int(row), late, errors
