"""Importing a list of employers (a district officer's 企业名单) from a spreadsheet.

A province has about 100,000 employers, so this is smaller than the workers' import
and simpler: rows are validated in Python while streaming, the clean ones kept (the
row limit bounds them), existing credit codes looked up in batches, and the new
employers written with bulk_create in one transaction — the same on PostgreSQL and
SQLite. Imported employers are pending until the district officer verifies them.
Re-importing the same file changes nothing (unique credit code).
"""

import shutil
import tempfile
import time
from pathlib import Path

from django.db import transaction

from accounts.scopes import is_admin, is_staff_user
from accounts.services.audit import audit_record
from accounts.services.jobs import job_checkpoint
from beneficiaries.choices import EmployerStatus
from beneficiaries.importer.cells import CellError, identifier, plain_text, text
from beneficiaries.importer.columns import EMPLOYER_COLUMNS, OWNERSHIP_BY_LABEL, chinese, header_scorer, map_headers
from beneficiaries.importer.outcomes import Outcomes
from beneficiaries.importer.result import ImportResult, NoProgress
from beneficiaries.models import Employer
from beneficiaries.phone import PhoneError, clean_contact_phone
from beneficiaries.spreadsheets import open_table
from beneficiaries.uscc import USCCError, validate_uscc
from core.errors import PermissionDenied
from regions.choices import Level
from regions.models import Region

BATCH = 1000
OWNERSHIP_HELP = "国有、集体、私营/非公、个体工商户、外资、施工项目、其他"


def _scope_districts(user) -> tuple[dict[str, int | str], dict[str, str]]:
    """{code: code} of the districts the user may import into, and {name: code} for the
    names that are unique among them."""
    qs = Region.objects.filter(level=Level.DISTRICT)
    if user is not None and not is_admin(user):
        qs = qs.within(user.region)
    codes, names, dup = {}, {}, set()
    for code, name in qs.values_list("code", "name"):
        codes[code] = code
        if name in names:
            dup.add(name)
        names[name] = code
    for name in dup:
        names.pop(name)
    return codes, names


def _contact_phone(raw) -> str:
    s = identifier(raw, "联系电话") if not isinstance(raw, str) else text(raw)
    if not s:
        return ""
    try:
        return clean_contact_phone(s)
    except PhoneError:
        raise CellError(f"联系电话“{s[:20]}”无效：请填写11位手机号或带区号的固定电话（如 0311-12345678）") from None


def employers_import(
    *,
    path,
    acting_user=None,
    filename: str = "",
    dry_run: bool = False,
    valid_only: bool = False,
    job=None,
    progress=None,
    max_rows: int | None = None,
    workdir: Path | None = None,
    keep_errors: int = 500,
) -> ImportResult:
    started = time.perf_counter()
    if acting_user is not None and not is_staff_user(acting_user):
        raise PermissionDenied("只有人社部门工作人员可以批量导入用人单位；企业请在“用人单位”页面登记本单位。")
    progress = progress or NoProgress()
    table = open_table(Path(path), filename=filename, score=header_scorer(EMPLOYER_COLUMNS), row_limit=max_rows)
    positions = map_headers(EMPLOYER_COLUMNS, table.headers)
    own_dir = workdir is None  # made only now: a refused file leaves no folder behind
    workdir = Path(workdir or tempfile.mkdtemp(prefix="portal-import-"))
    result = ImportResult.of_table(
        table, kind="employers", dry_run=dry_run, valid_only=valid_only, workdir=workdir, engine="orm"
    )
    outcomes = Outcomes(workdir, keep=keep_errors)
    result.outcomes = outcomes
    progress.set_total(table.estimated_rows)
    try:
        clean = _validate(
            table, positions, acting_user=acting_user, outcomes=outcomes, progress=progress, result=result
        )
        progress.advance(outcomes.total, message="数据已校验，正在写入数据库…", force=True)
        _apply(clean, acting_user=acting_user, dry_run=dry_run, valid_only=valid_only, result=result, job=job)
        outcomes.close()
        result.total, result.accepted, result.rejected = outcomes.total, outcomes.accepted, outcomes.rejected
        result.errors = outcomes.summary_errors()
        if result.written:
            audit_record(
                user=acting_user,
                action="employers_import",
                object_type="beneficiaries.employer",
                object_id="*",
                changes={
                    "job": job.pk if job is not None else None,
                    "created": result.created,
                    "unchanged": result.unchanged,
                    "rejected": result.rejected,
                },
                comment=filename[:200],
            )
    except BaseException:
        outcomes.close()
        if own_dir:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    result.seconds = round(time.perf_counter() - started, 3)
    return result


def _validate(table, positions, *, acting_user, outcomes, progress, result) -> list[dict]:
    """Every row checked (credit code and its repeats, name, ownership, district in the
    user's scope, industry, contact); the clean rows returned, the first kept as a sample."""
    codes, names = _scope_districts(acting_user)
    width = max(positions.values()) + 2
    blank = width - 1
    idx = {c.key: positions.get(c.key, blank) for c in EMPLOYER_COLUMNS}
    seen: dict[str, int] = {}
    clean = []
    done = 0
    for row_no, cells in table:
        if len(cells) < width:
            cells = list(cells) + [""] * (width - len(cells))
        errors = []
        row = {"row_no": row_no}
        try:
            code = validate_uscc(identifier(cells[idx["credit_code"]], "统一社会信用代码"))
            first = seen.setdefault(code, row_no)
            if first != row_no:
                errors.append(
                    ("统一社会信用代码", f"与第{first}行的统一社会信用代码重复：同一单位只需填写一行，请删除本行")
                )
            row["credit_code"] = code
        except (CellError, USCCError) as exc:
            errors.append(("统一社会信用代码", str(exc)))
        try:
            row["name"] = plain_text(cells[idx["name"]], "单位名称", max_length=200, required=True)
        except CellError as exc:
            errors.append(("单位名称", str(exc)))
        label = text(cells[idx["ownership"]])
        ownership = OWNERSHIP_BY_LABEL.get(label)
        if ownership is None:
            errors.append(
                (
                    "经济类型",
                    f"经济类型“{label[:20]}”无效：请从下拉列表选择 {OWNERSHIP_HELP} 之一"
                    if label
                    else "经济类型不能为空：请从下拉列表选择",
                )
            )
        row["ownership"] = ownership
        raw_district = text(cells[idx["district_code"]])
        district = codes.get(raw_district) or names.get(raw_district)
        if district is None:
            errors.append(("所在区县代码", _district_error(raw_district)))
        row["district_id"] = district
        try:
            row["industry"] = plain_text(cells[idx["industry"]], "行业", max_length=100)
        except CellError as exc:
            errors.append(("行业", str(exc)))
        try:
            row["contact_name"] = plain_text(cells[idx["contact_name"]], "联系人", max_length=50)
        except CellError as exc:
            errors.append(("联系人", str(exc)))
        try:
            row["contact_phone"] = _contact_phone(cells[idx["contact_phone"]])
        except CellError as exc:
            errors.append(("联系电话", str(exc)))
        if errors:
            outcomes.reject(row_no, errors)
        else:
            outcomes.accept(row_no)
            clean.append(row)
            if len(result.sample) < 20:
                result.sample.append(
                    {
                        "row": row_no,
                        "credit_code": row["credit_code"],
                        "name": row["name"],
                        "ownership": chinese(ownership.label),
                        "district": district,
                    }
                )
        done += 1
        if done % 2000 == 0:
            progress.advance(done, message="正在读取并校验…")
    return clean


def _district_error(raw_district: str) -> str:
    """Why a district code is refused (not given, unknown, not a district, out of scope)."""
    if not raw_district:
        return "所在区县代码不能为空：请填写6位区县代码，如鹿泉区 130110"
    region = Region.objects.filter(code=raw_district).only("level", "name").first()
    if region is None:
        return f"区县代码“{raw_district[:20]}”不存在：请填写6位区县代码，如鹿泉区 130110"
    if region.level != Level.DISTRICT:
        return f"“{region.name}”不是区县级单位：请填写单位所在区县（或功能区）的代码"
    return f"“{region.name}”不在您的管辖范围内，只能导入本辖区的单位"


def _apply(clean: list[dict], *, acting_user, dry_run, valid_only, result, job=None) -> None:
    outcomes = result.outcomes
    codes_in_scope, _ = _scope_districts(acting_user)
    new: list[dict] = []
    for start in range(0, len(clean), BATCH):
        batch = clean[start : start + BATCH]
        existing = dict(
            Employer.objects.filter(credit_code__in=[r["credit_code"] for r in batch]).values_list(
                "credit_code", "district_id"
            )
        )
        for r in batch:
            district = existing.get(r["credit_code"])
            if district is None:
                new.append(r)
            elif district in codes_in_scope:
                result.unchanged += 1
            else:
                outcomes.reject_late(
                    r["row_no"],
                    [
                        (
                            "统一社会信用代码",
                            "该单位已由其他地区登记，不能重复导入：如需变更所在区县，请联系原区县人社部门",
                        )
                    ],
                )
    write = not dry_run and (valid_only or outcomes.rejected == 0)
    result.created = len(new)
    if not write:
        return
    with transaction.atomic():
        made = Employer.objects.bulk_create(
            [
                Employer(
                    credit_code=r["credit_code"],
                    name=r["name"],
                    ownership=r["ownership"],
                    district_id=r["district_id"],
                    industry=r["industry"],
                    contact_name=r["contact_name"],
                    contact_phone=r["contact_phone"],
                    status=EmployerStatus.PENDING,
                )
                for r in new
            ],
            batch_size=BATCH,
            ignore_conflicts=True,
        )
        # In the same transaction: a retried attempt finishes from it (uploads.import_job_work).
        if job is not None:
            job_checkpoint(job.pk, committed={"created": len(made), "unchanged": result.unchanged})
    result.created = len(made)
    result.written = True
