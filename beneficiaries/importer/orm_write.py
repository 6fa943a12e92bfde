"""Phase B of an import of workers anywhere but PostgreSQL (SQLite for `make run`): the
same checks with the ORM, bulk_create in batches, rolled back when nothing may be
written."""

import datetime as dt
from pathlib import Path

from django.db import transaction
from django.db.models import Q

from beneficiaries.choices import CONFLICT_NOTE, RegistrationStatus, Source
from beneficiaries.importer.result import (
    NAME_MISMATCH,
    PERSON_COLUMNS,
    STAGE_COLUMNS,
    ImportResult,
    Rollback,
    checkpoint_result,
)
from beneficiaries.models import Person, Registration

BATCH = 2000


def read_clean(path: Path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\n").split("\t")


def apply_orm(clean_path: Path, *, employer, programme, job, dry_run, valid_only, result: ImportResult) -> None:
    outcomes = result.outcomes
    staged = 0
    try:
        with transaction.atomic():
            batch: list[list[str]] = []
            for fields in read_clean(clean_path):
                batch.append(fields)
                if len(batch) >= BATCH:
                    staged += _orm_batch(batch, employer=employer, programme=programme, job=job, result=result)
                    batch = []
            if batch:
                staged += _orm_batch(batch, employer=employer, programme=programme, job=job, result=result)
            write = not dry_run and (valid_only or outcomes.rejected == 0)
            result.unchanged = staged - result.created
            result.conflict_rows = result.conflict_rows[:100]
            if not write:
                raise Rollback
            checkpoint_result(job, result)
            result.written = True
    except Rollback:
        pass


def _orm_batch(batch: list[list[str]], *, employer, programme, job, result: ImportResult) -> int:
    """One batch of clean rows: rows whose ID number is known under another name are
    rejected, new persons created, then the registrations (conflicts where the person is
    active with another employer). Returns how many rows were kept."""
    rows = [dict(zip(STAGE_COLUMNS, f, strict=True)) for f in batch]
    for r in rows:
        r["bank_name"] = r["bank_name"].replace("\\\\", "\\")
        r["name"] = r["name"].replace("\\\\", "\\")
    keep = _persons_create(rows, result=result)
    ids = dict(Person.objects.filter(id_hash__in=[r["id_hash"] for r in keep]).values_list("id_hash", "pk"))
    regs = _registrations(keep, ids, employer=employer, programme=programme, job=job, result=result)
    Registration.objects.bulk_create(regs, batch_size=1000)
    result.created += len(regs)
    result.conflicts += sum(1 for g in regs if g.status == RegistrationStatus.CONFLICT)
    return len(keep)


def _persons_create(rows: list[dict], *, result: ImportResult) -> list[dict]:
    """Create the persons not known yet; return the rows kept (a known ID number under
    another name is rejected)."""
    hashes = [r["id_hash"] for r in rows]
    existing = {
        h: (pk, name) for h, pk, name in Person.objects.filter(id_hash__in=hashes).values_list("id_hash", "pk", "name")
    }
    keep = []
    for r in rows:
        found = existing.get(r["id_hash"])
        if found is not None and found[1] != r["name"]:
            result.outcomes.reject_late(int(r["row_no"]), [("姓名", NAME_MISMATCH)])
        else:
            keep.append(r)
    new = [
        Person(
            birth_date=dt.date.fromisoformat(r["birth_date"]),
            **{name: r[name] for name in PERSON_COLUMNS if name != "birth_date"},
        )
        for r in keep
        if r["id_hash"] not in existing
    ]
    Person.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
    result.persons_created += len(new)
    return keep


def _registrations(keep: list[dict], ids: dict, *, employer, programme, job, result: ImportResult) -> list:
    """The registrations to create for the kept rows (none where the person is already
    registered here); a conflict where the person is active with another employer."""
    person_ids = list(ids.values())
    same = dict(
        Registration.objects.filter(person_id__in=person_ids, programme=programme, employer=employer).values_list(
            "person_id", "status"
        )
    )
    others = set(
        Registration.objects.filter(
            Q(person_id__in=person_ids),
            Q(programme=programme),
            Q(status__in=[RegistrationStatus.ACTIVE, RegistrationStatus.CONFLICT]),
        )
        .exclude(employer=employer)
        .values_list("person_id", flat=True)
    )
    regs = []
    for r in keep:
        pid = ids[r["id_hash"]]
        if pid in same:
            if same[pid] == RegistrationStatus.CONFLICT:
                result.conflict_rows.append(int(r["row_no"]))
            continue
        conflict = pid in others
        if conflict:
            result.conflict_rows.append(int(r["row_no"]))
        regs.append(
            Registration(
                person_id=pid,
                programme=programme,
                employer=employer,
                district_id=employer.district_id,
                start_date=dt.date.fromisoformat(r["start_date"]),
                end_date=dt.date.fromisoformat(r["end_date"]),
                duty_days=int(r["duty_days"]),
                seniority_years=int(r["seniority_years"]),
                category=r["category"],
                bank_name=r["bank_name"],
                account_cipher=r["account_cipher"],
                account_masked=r["account_masked"],
                payout_choice=r["payout_choice"],
                status=RegistrationStatus.CONFLICT if conflict else RegistrationStatus.ACTIVE,
                status_note=CONFLICT_NOTE if conflict else "",
                source=Source.IMPORT,
                import_job=job,
            )
        )
    return regs
