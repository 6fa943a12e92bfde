"""What an import of workers did (`ImportResult`), how it is recorded in its Job, and
the clean rows that pass from phase A (validation) to phase B (writing): one line of
tab-separated STAGE_COLUMNS, in COPY text format, per accepted row."""

import shutil
from dataclasses import dataclass, field, fields

from accounts.services.jobs import job_checkpoint
from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.models import REGISTRATION_STAY_FIELDS

NAME_MISMATCH = "该身份证号在系统中已登记的姓名与本行姓名不一致：请核对姓名和身份证号是否填错"
# A person's columns and a registration's, as a clean row (and the staging table) holds them.
PERSON_COLUMNS = (
    "id_hash",
    "id_cipher",
    "id_masked",
    "name",
    "sex",
    "birth_date",
    "hukou_code_raw",
    "hukou_code",
    "phone_cipher",
    "phone_hash",
    "phone_tail",
    "phone_masked",
)
REGISTRATION_COLUMNS = (
    *REGISTRATION_STAY_FIELDS,
    "account_cipher",
    "account_masked",
    "payout_choice",
)
STAGE_COLUMNS = ("row_no", *PERSON_COLUMNS, *REGISTRATION_COLUMNS)


class NoProgress:
    """Stands in for accounts.services.Progress when there is no Job (CLI, preview)."""

    def set_total(self, total: int) -> None:
        pass

    def advance(self, done: int, *, message: str | None = None, force: bool = False) -> None:
        pass


@dataclass
class ImportResult:
    """What an import did (or, for a dry run, would do)."""

    kind: str
    dry_run: bool
    valid_only: bool
    written: bool = False
    total: int = 0
    accepted: int = 0
    rejected: int = 0
    created: int = 0  # registrations (or employers) created
    unchanged: int = 0  # already there: the same file imported again
    conflicts: int = 0  # created as conflicts (registered by another employer too)
    persons_created: int = 0
    conflict_rows: list[int] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)  # the first rows' errors
    sample: list[dict] = field(default_factory=list)  # the first accepted rows, masked
    format: str = ""
    sheet: str = ""
    other_sheets: list[str] = field(default_factory=list)  # sheets with data that were not read
    encoding: str = ""
    header_row: int = 0
    headers: list[str] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = ""
    processes: int = 0  # worker processes that checked the rows (0: the importing process did)
    outcomes: Outcomes | None = field(default=None, repr=False)
    workdir: str = ""

    @classmethod
    def of_table(cls, table, *, kind: str, dry_run: bool, valid_only: bool, workdir, engine: str) -> "ImportResult":
        """The result of importing `table` (an opened spreadsheets.Table), before any row."""
        return cls(
            kind=kind,
            dry_run=dry_run,
            valid_only=valid_only,
            format=table.format,
            sheet=table.sheet_name,
            other_sheets=table.other_sheets,
            encoding=table.encoding,
            header_row=table.header_row,
            headers=table.headers,
            workdir=str(workdir),
            engine=engine,
        )

    @property
    def message(self) -> str:
        if self.total == 0:
            return "文件中没有数据行。"
        unit = "条登记" if self.kind == "workers" else "家单位"
        head = f"共 {self.total:,} 行，无误 {self.accepted:,} 行，有误 {self.rejected:,} 行。"
        conflicts = f"（其中 {self.conflicts:,} 条与其他单位重复，待区县核实）" if self.conflicts else ""
        if self.dry_run:
            if self.rejected and not self.valid_only:
                head += "默认有错误行时不导入任何数据：请修改后重新上传，或选择“仅导入无误的行”。"
            return head + f"无误的行导入后将新增 {self.created:,} {unit}{conflicts}，{self.unchanged:,} 行此前已导入。"
        if not self.written:
            return head + "因有错误行，未导入任何数据：请下载错误行报告，修改后重新上传。"
        text = head + f"已新增 {self.created:,} {unit}{conflicts}"
        if self.unchanged:
            text += f"，{self.unchanged:,} 行此前已导入、未改动"
        if self.rejected:
            text += f"；{self.rejected:,} 行有误未导入，请下载错误行报告修改后只上传这些行"
        return text + "。"

    def cleanup(self) -> None:
        """Remove the working files (outcomes) once the reports are written."""
        if self.outcomes is not None:
            self.outcomes.close()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def as_dict(self) -> dict:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "outcomes"}
        data["message"] = self.message
        return data


def checkpoint(job, **committed) -> None:
    """Record what this import wrote in the Job row, inside the transaction that writes
    it: a worker killed after the commit leaves the checkpoint, and the retried attempt
    finishes from it instead of reporting "新增 0 条" (see uploads.import_job_work)."""
    if job is not None:
        job_checkpoint(job.pk, committed=committed)


def checkpoint_result(job, result: ImportResult) -> None:
    checkpoint(
        job,
        created=result.created,
        conflicts=result.conflicts,
        persons_created=result.persons_created,
        unchanged=result.unchanged,
        conflict_rows=result.conflict_rows[:100],
    )


class Rollback(Exception):
    pass
