"""A deterministic province-sized synthetic data set.

Employers with valid 统一社会信用代码 spread over Hebei's districts, and workers with
valid ID numbers: about 40 % from outside Hebei, 30 % from another Hebei city, 30 %
from the city they work in. The same (n, seed) always gives the same rows.
"""

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from beneficiaries.synthetic import BANK_BINS, BANKS, OUTSIDE_PROVINCE_CODES, Synthesizer, id_number, luhn_account

DATA = Path(__file__).resolve().parent.parent / "regions" / "data"
OWNERSHIPS = ["private"] * 6 + ["individual"] * 2 + ["construction", "state", "collective", "foreign"]
CATEGORIES = ["migrant"] * 17 + ["hardship", "unemployed", "unemployed"]
CATEGORY_LABELS = {"migrant": "外来务工人员", "hardship": "困难群众", "unemployed": "失业人员"}
TEMPLATE_HEADERS = [
    "姓名",
    "身份证号",
    "手机号",
    "留岗开始日期",
    "留岗结束日期",
    "春节在岗天数",
    "工龄",
    "人员类别",
    "开户银行",
    "银行账号",
]


def hebei_districts() -> list[str]:
    with open(DATA / "hebei_divisions.csv", encoding="utf-8") as f:
        return [r["code"] for r in csv.DictReader(f) if r["level"] == "county"]


@dataclass
class EmployerRow:
    credit_code: str
    name: str
    ownership: str
    district_code: str


@dataclass
class WorkerRow:
    name: str
    id_number: str
    phone: str
    hukou_code: str
    district_code: str  # where they stay
    employer_index: int
    start_date: date
    end_date: date
    duty_days: int
    seniority_years: int
    category: str
    bank_name: str
    account: str


def employers(count: int, seed: int = 2021) -> Iterator[EmployerRow]:
    syn = Synthesizer(seed)
    districts = hebei_districts()
    for i in range(count):
        district = districts[i % len(districts)]
        ownership = OWNERSHIPS[syn.rng.randrange(len(OWNERSHIPS))]
        kind = "92" if ownership == "individual" else "91"
        yield EmployerRow(syn.credit_code(district, kind=kind), f"合成企业{i:06d}有限公司", ownership, district)


def workers(count: int, employer_count: int, seed: int = 2021) -> Iterator[WorkerRow]:
    """`count` workers, each unique by ID number, spread over `employer_count` employers
    (employer i sits in district hebei_districts()[i % len]), ordered by employer."""
    rng = random.Random(seed + 1)
    districts = hebei_districts()
    by_city: dict[str, list[str]] = {}
    for code in districts:
        by_city.setdefault(code[:4], []).append(code)
    cities = sorted(by_city)
    used: set[str] = set()
    for i in range(count):
        employer_index = i * employer_count // count
        district = districts[employer_index % len(districts)]
        roll = rng.random()
        if roll < 0.4:
            home = OUTSIDE_PROVINCE_CODES[rng.randrange(len(OUTSIDE_PROVINCE_CODES))]
        elif roll < 0.7:
            other = cities[rng.randrange(len(cities))]
            home = by_city[other][rng.randrange(len(by_city[other]))]
        else:
            home = by_city[district[:4]][rng.randrange(len(by_city[district[:4]]))]
        while True:  # birth date and order code make the number unique
            birth = date.fromordinal(date(1961, 1, 1).toordinal() + rng.randrange(365 * 41))
            number = id_number(home, birth, rng.randrange(500), female=rng.random() < 0.35)
            if number not in used:
                used.add(number)
                break
        bank = rng.randrange(len(BANKS))
        yield WorkerRow(
            name=f"职工{i:07d}",
            id_number=number,
            phone=f"1{'3456789'[rng.randrange(7)]}{rng.randrange(10**9):09d}",
            hukou_code=home,
            district_code=district,
            employer_index=employer_index,
            start_date=date(2021, 1, 21 + rng.randrange(10)),
            end_date=date(2021, 3, 1 + rng.randrange(31)),
            duty_days=(0, 0, 3, 5, 7)[rng.randrange(5)],
            seniority_years=rng.randrange(12),
            category=CATEGORIES[rng.randrange(len(CATEGORIES))],
            bank_name=BANKS[bank],
            account=luhn_account(rng, BANK_BINS[bank]),
        )


def _template_row(r: WorkerRow) -> list:
    return [
        r.name,
        r.id_number,
        r.phone,
        r.start_date.isoformat(),
        r.end_date.isoformat(),
        r.duty_days,
        r.seniority_years,
        CATEGORY_LABELS[r.category],
        r.bank_name,
        r.account,
    ]


def write_worker_csv(path: Path, count: int, *, seed: int = 2021, encoding: str = "utf-8-sig") -> Path:
    """The upload template's layout, as an employer would fill it."""
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.writer(f)
        w.writerow(TEMPLATE_HEADERS)
        for r in workers(count, max(1, count // 10), seed):
            w.writerow(_template_row(r))
    return path


def write_worker_csv_parts(directory: Path, count: int, parts: int, *, seed: int = 2021) -> list[Path]:
    """`count` workers, unique by ID number across all files, in `parts` files of the
    template's layout (one per employer): a province's uploads."""
    paths = [directory / f"workers-{count}-part{i + 1}.csv" for i in range(parts)]
    files = [open(path, "w", encoding="utf-8-sig", newline="") for path in paths]
    try:
        writers = [csv.writer(f) for f in files]
        for w in writers:
            w.writerow(TEMPLATE_HEADERS)
        for i, r in enumerate(workers(count, max(1, count // 10), seed)):
            writers[i * parts // count].writerow(_template_row(r))
    finally:
        for f in files:
            f.close()
    return paths
