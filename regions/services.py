"""Loading the region tree and the national code list from the files in regions/data."""

import csv
from pathlib import Path

from django.db import transaction

from regions.choices import Kind, Level
from regions.division_history import read_history, read_supplement
from regions.models import DivisionCode, Region

DATA_DIR = Path(__file__).resolve().parent / "data"
PROVINCE_CODE = "130000"
# Report straight to the province although their codes sit under 石家庄 and 保定.
DIRECT_REPORT = {"130181", "130682"}  # 辛集市, 定州市
# 雄安新区 has no GB/T 2260 code; 133100 is the code the NBS statistical list uses.
XIONGAN_CODE = "133100"
XIONGAN_COUNTIES = {"130629", "130632", "130638"}  # 容城县, 安新县, 雄县


@transaction.atomic
def regions_load() -> dict:
    """Create or update Hebei's reporting tree and the national code list. Idempotent."""
    rows = _tree_rows()
    _tree_save(rows)
    codes, supplement_current = _national_codes()
    written = _division_codes_save(codes, supplement_current)
    return {"regions": len(rows), "division_codes": written}


def _tree_rows() -> list[dict]:
    """Hebei's divisions as the province reports (辛集 and 定州 straight to the province,
    雄安's counties under it), and the functional zones."""
    rows: list[dict] = []
    with open(DATA_DIR / "hebei_divisions.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            level = {"province": Level.PROVINCE, "city": Level.CITY}.get(row["level"], Level.DISTRICT)
            parent, official_parent, direct = row["parent_code"] or None, "", False
            if row["code"] in DIRECT_REPORT:
                parent, official_parent, direct = PROVINCE_CODE, row["parent_code"], True
            elif row["code"] in XIONGAN_COUNTIES:
                parent, official_parent = XIONGAN_CODE, row["parent_code"]
            rows.append(
                dict(
                    code=row["code"],
                    name=row["name"],
                    level=level,
                    kind=Kind.OFFICIAL,
                    parent=parent,
                    official_parent_code=official_parent,
                    direct_report=direct,
                )
            )
    rows.append(
        dict(
            code=XIONGAN_CODE,
            name="雄安新区",
            level=Level.CITY,
            kind=Kind.FUNCTIONAL_ZONE,
            parent=PROVINCE_CODE,
            official_parent_code="",
            direct_report=True,
        )
    )
    with open(DATA_DIR / "hebei_functional_zones.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows.append(
                dict(
                    code=row["code"],
                    name=row["name"],
                    level=Level.DISTRICT,
                    kind=Kind.FUNCTIONAL_ZONE,
                    parent=row["parent_code"],
                    official_parent_code="",
                    direct_report=False,
                )
            )
    return rows


def _tree_save(rows: list[dict]) -> None:
    by_code = {r["code"]: r for r in rows}

    def path_of(code: str) -> str:
        parent = by_code[code]["parent"]
        return (path_of(parent) if parent else "") + code + "/"

    # Parents first, so that every foreign key points at a row that exists.
    rows.sort(key=lambda r: len(path_of(r["code"])))
    for r in rows:
        Region.objects.update_or_create(
            code=r["code"],
            defaults=dict(
                name=r["name"],
                level=r["level"],
                kind=r["kind"],
                parent_id=r["parent"],
                official_parent_code=r["official_parent_code"],
                direct_report=r["direct_report"],
                path=path_of(r["code"]),
            ),
        )


def _national_codes() -> tuple[dict[str, dict], dict[str, str]]:
    """(code → its entry, supplement code → its current code)."""
    # The national code history (the active row of a reused code wins: its current
    # name), then the codes only python-stdnum's list has (regions.division_history).
    codes: dict[str, dict] = read_history()
    supplement_current: dict[str, str] = {}
    for row in read_supplement():
        if row["code"] in codes:
            continue
        start, _, end = row["years"].partition("-")
        codes[row["code"]] = dict(
            name=row["name"],
            province=row["province"],
            level="county",
            active=False,
            from_year=int(start) if start.isdigit() else None,
            until_year=int(end) if end.isdigit() else None,
            successor="",
        )
        supplement_current[row["code"]] = row["current_code"]
    # Residence permits of Hong Kong, Macau and Taiwan residents use these prefixes.
    for code, name in (("810000", "香港特别行政区"), ("820000", "澳门特别行政区"), ("830000", "台湾地区")):
        codes.setdefault(
            code,
            dict(
                name=name, province=name, level="province", active=True, from_year=None, until_year=None, successor=""
            ),
        )
    return codes, supplement_current


def _division_codes_save(codes: dict[str, dict], supplement_current: dict[str, str]) -> int:
    """Write the code list (only what changed); returns how many codes it holds."""

    def current(code: str, seen=()) -> str:
        if code in supplement_current:
            return current(supplement_current[code], (*seen, code))
        entry = codes.get(code)
        if entry is None or entry["active"] or not entry["successor"] or code in seen:
            return code
        return current(entry["successor"], (*seen, code))

    fields = ["name", "province", "level", "active", "from_year", "until_year", "current_code"]
    existing = {row[0]: row[1:] for row in DivisionCode.objects.values_list("code", *fields)}
    objs = [
        DivisionCode(
            code=code,
            name=e["name"],
            province=e["province"],
            level=e["level"],
            active=e["active"],
            from_year=e["from_year"],
            until_year=e["until_year"],
            current_code=current(code),
        )
        for code, e in codes.items()
    ]
    DivisionCode.objects.bulk_create([o for o in objs if o.code not in existing], batch_size=2000)
    # Only rows whose data changed: a second load writes nothing (bulk_update is slow).
    changed = [o for o in objs if o.code in existing and existing[o.code] != tuple(getattr(o, f) for f in fields)]
    DivisionCode.objects.bulk_update(changed, fields, batch_size=2000)
    # A code the lists no longer hold (230834 was a misprint of 友谊县's 230824).
    stale = sorted(set(existing) - set(codes))
    for i in range(0, len(stale), 500):
        DivisionCode.objects.filter(code__in=stale[i : i + 500]).delete()
    return len(objs)
