"""居民身份证号码 (GB 11643-1999) validation, and the numbers that share its format.

Accepted:

* 18-digit resident ID numbers: address code (any code that exists now or existed
  once anywhere in China since 1980: a number keeps the code it was issued with for
  life; regions.division_history builds the set), birth date, sequence code (17th digit odd = male), ISO 7064 MOD 11-2 check
  character;
* 15-digit first-generation numbers, converted to 18 digits ("19" before the year,
  check character appended);
* residence permits of Hong Kong, Macau and Taiwan residents (address code 810000,
  820000, 830000);
* the 2023 foreigners' permanent residence ID: 9, the issuing province's code (2
  digits, a province of the national list), the holder's nationality (3 digits, a
  GB/T 2659 = ISO 3166-1 numeric country code, China's 156 excepted), birth date,
  sequence (3 digits, odd = male) and the same check character. The address-code rule
  does not apply to it and it has no hukou (`current_code` is "").

The importer validates ~100k rows a second, so this module never touches the
database: the accepted codes (regions/data/cn_division_codes.csv, the national
history, and cn_division_codes_stdnum.csv, the codes only python-stdnum's list has) are
read once, lazily, into a module-level dict code → current code (an abolished code counts as
its successor, followed to the end of the chain: 鹿泉市 130185 → 鹿泉区 130110).
"""

import datetime as dt
import re
import time
import unicodedata
from dataclasses import dataclass

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"
# Residence permits for residents of Hong Kong, Macau and Taiwan (2018): they count as
# these "provinces". 830000 is not in the national code list.
PERMIT_CODES = {"810000": "810000", "820000": "820000", "830000": "830000"}
_SCIENTIFIC = re.compile(r"^\d+(\.\d+)?E\+?\d+$")
_SCIENTIFIC_MSG = "身份证号被 Excel 转成了科学计数法，数字已丢失：请把该列设置为“文本”格式后重新填写"

_codes: dict[str, str] | None = None  # code → current code; loaded on first use
_today_value: dt.date = dt.date.min
_today_until = 0.0
_dates: dict[str, dt.date | None] = {}  # "YYYYMMDD" → date (None = not a date); memo


class IdNumberError(ValueError):
    """An invalid ID number; the message is Chinese and says what to fix."""


@dataclass(frozen=True, slots=True)
class IdInfo:
    """What an ID number says about its holder."""

    number: str  # the normalized 18-character number
    birth_date: dt.date
    sex: str  # "M" / "F" (17th digit odd / even)
    address_code: str  # the 6 digits in the number ("" for a foreigner's number)
    current_code: str  # the current code it counts as ("" for a foreigner's number)
    is_foreign: bool = False


def _load_codes() -> dict[str, str]:
    """The accepted codes (regions.division_history: the national code history plus
    python-stdnum's codes it lacks), each → the current code it counts as."""
    from regions.division_history import accepted_codes

    codes = accepted_codes()
    codes.update(PERMIT_CODES)
    return codes


def division_codes() -> dict[str, str]:
    """The national code list as {code: current code} (loaded once per process)."""
    global _codes
    if _codes is None:
        _codes = _load_codes()
    return _codes


def code_ever_existed(code: str) -> bool:
    """A GB/T 2260 code that exists or existed (the national history, or stdnum's list)."""
    codes = _codes if _codes is not None else division_codes()
    return code in codes and code not in PERMIT_CODES


_nationalities: frozenset[str] | None = None


def nationality_codes() -> frozenset[str]:
    """GB/T 2659 (ISO 3166-1) numeric country codes, China's own excepted."""
    global _nationalities
    if _nationalities is None:
        import iso3166

        _nationalities = frozenset(iso3166.countries_by_numeric) - {"156"}
    return _nationalities


def current_code_of(address_code: str) -> str | None:
    """The current code an address code counts as, or None if it never existed.

    A "市辖区" code (xxxx01, e.g. 130101) that old cards carry but the list does not
    name counts as its prefecture (xxxx00)."""
    codes = _codes if _codes is not None else division_codes()
    current = codes.get(address_code)
    if current is None and address_code.endswith("01") and not address_code.endswith("0001"):
        current = codes.get(address_code[:4] + "00")
    return current


def normalize_id_number(raw) -> str:
    """Strip every space (inner ones too), fold full-width characters, upper-case x."""
    if raw is None:
        return ""
    s = raw if isinstance(raw, str) else str(raw)
    if s.isascii():
        if s.isalnum():  # the common case: nothing to strip
            return s.upper()
    else:
        s = unicodedata.normalize("NFKC", s)
    return "".join(s.split()).upper()


def id_check_char(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) of 17 ASCII digits.

    The weights are 2**(18-i) mod 11, and 13 ≡ 2 (mod 11), so the weighted sum is
    2 * int(first17, 13) modulo 11: one C-level int() instead of a Python loop."""
    if len(first17) != 17 or not (first17.isascii() and first17.isdigit()):
        raise IdNumberError("身份证号前17位应全部为数字，请核对")
    return CHECK_CHARS[2 * int(first17, 13) % 11]


def convert_15_to_18(n15: str) -> str:
    """A first-generation 15-digit number as its 18-digit form (born 19xx)."""
    n15 = normalize_id_number(n15)
    if len(n15) != 15 or not (n15.isascii() and n15.isdigit()):
        raise IdNumberError(f"15位身份证号应全部为数字，当前为“{n15}”，请核对")
    first17 = n15[:6] + "19" + n15[6:]
    return first17 + id_check_char(first17)


def _date(s: str) -> dt.date | None:
    try:
        return _dates[s]
    except KeyError:
        try:
            d = dt.date(int(s[:4]), int(s[4:6]), int(s[6:8]))
        except ValueError:
            d = None
        if len(_dates) < 200_000:
            _dates[s] = d
        return d


def _today() -> dt.date:
    """Today's date, re-read at most once a minute (date.today() costs more than the
    rest of a validation)."""
    global _today_value, _today_until
    now = time.monotonic()
    if now >= _today_until:
        _today_value, _today_until = dt.date.today(), now + 60
    return _today_value


def validate_id_number(raw, *, today: dt.date | None = None) -> IdInfo:
    """Validate and normalize an ID number; raise IdNumberError with a Chinese message."""
    number = normalize_id_number(raw)
    if len(number) != 18 or not (number.isascii() and number[:17].isdigit()):
        if not number:
            raise IdNumberError("身份证号不能为空")
        if "E+" in number or _SCIENTIFIC.match(number):
            raise IdNumberError(_SCIENTIFIC_MSG)
        if len(number) == 15 and number.isascii() and number.isdigit():
            number = convert_15_to_18(number)
        elif len(number) != 18:
            raise IdNumberError(f"身份证号应为18位（或15位旧号码），当前为{len(number)}位，请核对")
        else:
            raise IdNumberError("身份证号前17位应全部为数字，最后一位为数字或X，请核对")
    last = number[17]
    if last != CHECK_CHARS[2 * int(number[:17], 13) % 11]:  # see id_check_char
        if last not in "0123456789X":
            raise IdNumberError("身份证号最后一位应为数字或X，请核对")
        raise IdNumberError("校验位不正确，请核对")
    birth = _date(number[6:14])
    if birth is None or birth.year < 1880:
        raise IdNumberError(f"出生日期无效：{number[6:14]}，请核对")
    if birth > (today or _today()):
        raise IdNumberError(f"出生日期晚于今天：{number[6:14]}，请核对")
    sex = "M" if number[16] in "13579" else "F"
    if number[0] == "9":
        # 2023 format of the foreigners' permanent residence ID card.
        province = number[1:3] + "0000"
        if province in PERMIT_CODES or not code_ever_existed(province):
            raise IdNumberError(f"外国人永久居留身份证号第2至3位“{number[1:3]}”不是有效的省级代码，请核对")
        if number[3:6] not in nationality_codes():
            raise IdNumberError(f"外国人永久居留身份证号第4至6位“{number[3:6]}”不是有效的国籍代码，请核对")
        return IdInfo(number, birth, sex, "", "", True)
    address = number[:6]
    current = current_code_of(address)
    if current is None:
        raise IdNumberError(f"地址码 {address} 不存在，请核对身份证号前6位")
    return IdInfo(number, birth, sex, address, current, False)


def is_valid_id_number(raw) -> bool:
    try:
        validate_id_number(raw)
    except IdNumberError:
        return False
    return True
