"""Deterministic synthetic people and employers with valid numbers.

Used by the demo population and the benchmark. Every ID number passes GB 11643
(check character, real birth date, an address code that exists) and every credit
code passes GB 32100 with its embedded GB 11714 organisation code. The same seed
always gives the same rows.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta

from beneficiaries.uscc import make_uscc

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志强海燕红梅春生玉兰文斌晓东立新国庆振华"
BANKS = [
    "中国工商银行",
    "中国农业银行",
    "中国银行",
    "中国建设银行",
    "交通银行",
    "中国邮政储蓄银行",
    "河北银行",
    "河北省农村信用社",
]
BANK_BINS = ["622202", "622848", "621661", "621700", "622260", "621799", "622250", "621067"]

# Home address codes outside Hebei (a realistic mix of sending provinces; some abolished
# codes on purpose: an ID number keeps its address code for life).
OUTSIDE_PROVINCE_CODES = [
    "410102",
    "410323",
    "411421",
    "412721",
    "371302",
    "370883",
    "341221",
    "342101",
    "511321",
    "510821",
    "140602",
    "150102",
    "230182",
    "220381",
    "430721",
    "420117",
    "110105",
    "120104",
    "612732",
    "362427",
]


def id_check_char(first17: str) -> str:
    return ID_CHECK[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def id_number(address_code: str, birth: date, seq: int, *, female: bool) -> str:
    """A valid 18-digit ID number; `seq` (0..499) picks the order code."""
    order = (seq % 500) * 2 + (0 if female else 1)  # odd = male, even = female
    first17 = f"{address_code}{birth:%Y%m%d}{order:03d}"
    return first17 + id_check_char(first17)


def luhn_account(rng: random.Random, bin6: str, length: int = 19) -> str:
    body = bin6 + "".join(str(rng.randrange(10)) for _ in range(length - len(bin6) - 1))
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d -= 9 if d > 9 else 0
        total += d
    return body + str((10 - total % 10) % 10)


@dataclass
class SyntheticWorker:
    name: str
    id_number: str
    phone: str
    hukou_code: str
    bank_name: str
    account: str
    seniority_years: int
    duty_days: int


class Synthesizer:
    """Makes people and employers from a seed; `hebei_codes` are home codes inside Hebei."""

    def __init__(self, seed: int = 2021, *, hebei_codes: list[str] | None = None):
        self.rng = random.Random(seed)
        self.hebei_codes = hebei_codes or ["130102", "130110", "130181", "130682", "130723", "130902", "131102"]
        self._seq = 0

    def name(self) -> str:
        r = self.rng
        return r.choice(SURNAMES) + "".join(r.choice(GIVEN) for _ in range(r.choice((1, 2))))

    def birth(self) -> date:
        return date(1961, 1, 1) + timedelta(days=self.rng.randrange(0, 365 * 41))

    def worker(self, *, home_code: str | None = None, outside_share: float = 0.6) -> SyntheticWorker:
        """One worker; without `home_code`, `outside_share` of them come from outside Hebei."""
        r = self.rng
        if home_code is None:
            home_code = r.choice(OUTSIDE_PROVINCE_CODES) if r.random() < outside_share else r.choice(self.hebei_codes)
        self._seq += 1
        female = r.random() < 0.35
        number = id_number(home_code, self.birth(), self._seq, female=female)
        bank = r.randrange(len(BANKS))
        return SyntheticWorker(
            name=self.name(),
            id_number=number,
            phone=f"1{r.choice('3456789')}{r.randrange(10**9):09d}",
            hukou_code=home_code,
            bank_name=BANKS[bank],
            account=luhn_account(r, BANK_BINS[bank]),
            seniority_years=r.choice((0, 0, 1, 1, 2, 3, 4, 5, 6, 8, 10)),
            duty_days=r.choice((0, 0, 0, 3, 5, 7)),
        )

    def credit_code(self, region6: str, *, kind: str = "91") -> str:
        """A valid 统一社会信用代码 (91 = enterprise, 92 = individual business)."""
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        org8 = "".join(self.rng.choice(alphabet[:10] if i < 2 else alphabet) for i in range(8))
        return make_uscc(kind, region6, org8)
