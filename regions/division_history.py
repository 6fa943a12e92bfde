"""The accepted set of GB/T 2260 address codes: the national code history
(regions/data/cn_division_codes.csv, every county-level-and-above code since 1981)
plus the codes python-stdnum's list knows and the history lacks
(regions/data/cn_division_codes_stdnum.csv), each with the current code it counts as.

An ID number keeps the address code it was issued with for life, so a number is
valid if its first six digits were a division code at any time. The two lists were
compiled from different editions: stdnum's has the "市辖区" (xxxx01) and pre-1983
"市区" (xxxx20) placeholders, Beijing's, Tianjin's and Shanghai's county codes of
1980–1982 (xx02xx), and 丽水地区 under 3328xx (1982–2000, where the history has
3325xx); the history has codes newer than stdnum's list (330113 临平区, 2021).

The supplement is generated once, reviewed and committed (`manage.py
division_codes_from_stdnum`): validation does not change under us when python-stdnum is
upgraded, and python-stdnum stays a development dependency. Each supplement code is
given the current code it counts as for rules (hukou): the code of the same name in the
same province in the history (友谊县 230824 → 230522), else its prefecture, else its
province.
"""

import csv
import re
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent / "data"
HISTORY_CSV = DATA_DIR / "cn_division_codes.csv"
SUPPLEMENT_CSV = DATA_DIR / "cn_division_codes_stdnum.csv"
SUPPLEMENT_FIELDS = ["code", "province", "name", "years", "current_code", "how"]

# stdnum's list writes a few names in traditional characters (大兴安岭's districts).
_SIMPLIFIED = str.maketrans({"區": "区", "嶺": "岭", "達": "达", "員": "员", "會": "会", "縣": "县"})
# Placeholders, not places: counted as their prefecture (or province).
_PLACEHOLDERS = {"市辖区", "市区", "县", "市", "省直辖县级行政单位", "自治区直辖县级行政单位", "省直辖行政单位", "林区"}
# Names shared by districts of many cities: matched only within the same prefecture.
_GENERIC = {"郊区", "城区", "矿区", "市中区", "新区", "东区", "西区", "南区", "北区", "中区"}
_ENTRY = re.compile(r"^\[(?P<years>[^\]]*)\](?P<name>.+)$")


def first_successor(successors: str) -> str:
    return successors.split(";")[0].split("[")[0].strip()


def read_history() -> dict[str, dict]:
    """code → {name, province, active, successor, from_year, until_year, level}; the
    active row of a reused code wins (its current name)."""
    entries: dict[str, dict] = {}
    with open(HISTORY_CSV, encoding="utf-8") as f:
        for row in csv.DictReader(f):
            active = row["status"] == "active"
            if row["code"] not in entries or active:
                entries[row["code"]] = dict(
                    name=row["name"],
                    province=row["province"],
                    level=row["level"],
                    active=active,
                    from_year=int(row["from_year"]) if row["from_year"] else None,
                    until_year=int(row["until_year"]) if row["until_year"] else None,
                    successor="" if active else first_successor(row["successor_codes"]),
                )
    return entries


def read_supplement() -> list[dict]:
    if not SUPPLEMENT_CSV.exists():
        return []
    with open(SUPPLEMENT_CSV, encoding="utf-8") as f:
        return list(csv.DictReader(f))


def current_codes(entries: dict[str, dict]) -> dict[str, str]:
    """code → the current code it counts as: an abolished code follows its first
    successor to the end of the chain (鹿泉市 130185 → 鹿泉区 130110)."""

    def current(code: str) -> str:
        seen = set()
        while True:
            e = entries.get(code)
            if e is None or e["active"] or not e["successor"] or code in seen or e["successor"] not in entries:
                return code
            seen.add(code)
            code = e["successor"]

    return {code: current(code) for code in entries}


def accepted_codes() -> dict[str, str]:
    """Every accepted address code → the current code it counts as (history first, then
    the supplement; a supplement's current code is itself followed through the history)."""
    entries = read_history()
    codes = current_codes(entries)
    for row in read_supplement():
        if row["code"] not in codes:
            target = row["current_code"]
            codes[row["code"]] = codes.get(target, target)
    return codes


def stdnum_codes() -> dict[str, str]:
    """python-stdnum's GB/T 2260 list as {6-digit code: its county description}
    ("[1984-1991]友谊县"; several comma-separated when the code was reused)."""
    from stdnum import numdb

    out: dict[str, str] = {}

    def walk(prefix, parts):
        for _length, low, high, props, children in parts:
            code = prefix + low
            if low == high and len(code) == 6:
                out[code] = props.get("county", "")
            walk(code, children)

    walk("", numdb.get("cn/loc").prefixes)
    return out


def _last_entry(description: str) -> tuple[str, str]:
    """("1984-1991", "友谊县") from "[1984-1991]友谊县" (the last of several)."""
    last = description.split(",")[-1].strip()
    m = _ENTRY.match(last)
    years, name = (m["years"], m["name"]) if m else ("", last)
    return years, name.translate(_SIMPLIFIED)


def supplement_rows() -> list[dict]:
    """The supplement: stdnum's codes that the history lacks, with their current code."""
    entries = read_history()
    current = current_codes(entries)
    by_name: dict[tuple[str, str], list[str]] = {}
    for code, e in entries.items():
        by_name.setdefault((code[:2], e["name"]), []).append(code)
    rows = []
    for code, description in sorted(stdnum_codes().items()):
        if code in entries:
            continue
        years, name = _last_entry(description)
        province = code[:2] + "0000"
        prefecture = code[:4] + "00"
        target, how = "", ""
        if name not in _PLACEHOLDERS and "直辖" not in name:
            same = [c for c in by_name.get((code[:2], name), []) if name not in _GENERIC or c[:4] == code[:4]]
            # Prefer the same prefecture, then a code still in use.
            same.sort(key=lambda c: (c[:4] != code[:4], not entries[c]["active"], c))
            if same:
                target, how = current[same[0]], f"same name as {same[0]}"
        if not target and prefecture != code and prefecture in entries and "直辖" not in name:
            target, how = current[prefecture], "its prefecture"
        if not target:
            target, how = current.get(province, province), "its province"
        rows.append(
            dict(
                code=code,
                province=entries.get(province, {}).get("name", ""),
                name=name,
                years=years,
                current_code=target,
                how=how,
            )
        )
    return rows


def write_supplement(path: Path = SUPPLEMENT_CSV) -> int:
    rows = supplement_rows()
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=SUPPLEMENT_FIELDS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return len(rows)
