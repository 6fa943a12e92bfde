"""Our ID-number and credit-code validators against the standards, and a differential
test against python-stdnum (`cn.ric`, `cn.uscc`) over tens of thousands of generated
numbers. Every class of disagreement is listed below with its reason; a new class
fails the test."""

import datetime as dt
import functools
import random
from pathlib import Path

import pytest
from stdnum.cn import ric, uscc

from beneficiaries.idcard import IdNumberError, division_codes, id_check_char, validate_id_number
from beneficiaries.uscc import ALPHABET, USCCError, org_check_char, uscc_check_char, validate_uscc
from regions.division_history import stdnum_codes

# 200 real codes collected online by python-stdnum's test suite (the numbers only).
EXAMPLES = Path(__file__).resolve().parent / "files" / "uscc_examples_found_online.txt"
TODAY = dt.date(2026, 12, 1)


def _id(first17: str) -> str:
    return first17 + id_check_char(first17)


def _uscc(first8: str, org8: str = "MA0E8K2X") -> str:
    first17 = first8 + org8 + org_check_char(org8)
    return first17 + uscc_check_char(first17)


# -- credit codes: GB 32100 ---------------------------------------------------------


@pytest.mark.parametrize(
    "code, message",
    [
        ("000000001234567887", "第1位"),  # the example: passes both check characters
        (_uscc("1A130110"), "前两位“1A”"),
        (_uscc("9A130110"), "前两位“9A”"),
        (_uscc("94130110"), "前两位“94”"),
        (_uscc("91AB0110"), "第3至8位"),  # letters in the region code
        (_uscc("91999999"), "第3至8位"),  # no such division
    ],
)
def test_credit_codes_outside_the_standard_are_refused(code, message):
    with pytest.raises(USCCError, match=message):
        validate_uscc(code)


@pytest.mark.parametrize(
    "first8", ["91130110", "92130110", "93130110", "12130000", "51100000", "N2130110", "Y1130110", "91332500"]
)
def test_credit_codes_within_the_standard_pass(first8):
    # 332500 丽水地区 was abolished in 2000: a code registered before keeps it.
    assert validate_uscc(_uscc(first8)) == _uscc(first8)


def test_real_credit_codes_all_pass():
    codes = [line.strip() for line in EXAMPLES.read_text(encoding="utf-8").split() if line.strip()]
    assert len(codes) == 200
    refused = []
    for code in codes:
        try:
            validate_uscc(code)
        except USCCError as exc:
            refused.append((code, str(exc)))
    assert not refused


# -- permanent residence numbers ----------------------------------------------------


def test_a_foreigners_permanent_residence_number_has_its_structure_checked():
    good = _id("911840" + "19800101" + "005")  # 北京, United States (840)
    info = validate_id_number(good)
    assert info.is_foreign and info.current_code == ""
    with pytest.raises(IdNumberError, match="省级代码"):
        validate_id_number(_id("999840" + "19800101" + "005"))  # 99: no such province
    with pytest.raises(IdNumberError, match="省级代码"):
        validate_id_number(_id("981840" + "19800101" + "005"))  # 81: a permit prefix, not a province
    with pytest.raises(IdNumberError, match="国籍代码"):
        validate_id_number(_id("911999" + "19800101" + "005"))  # 999: no such country
    with pytest.raises(IdNumberError, match="国籍代码"):
        validate_id_number(_id("911156" + "19800101" + "005"))  # China's own code


# -- the differential test ----------------------------------------------------------


def _ours_id(number: str) -> bool:
    try:
        validate_id_number(number, today=TODAY)
    except IdNumberError:
        return False
    return True


def _ours_uscc(code: str) -> bool:
    try:
        validate_uscc(code)
    except USCCError:
        return False
    return True


@functools.cache
def _stdnum_codes() -> frozenset[str]:
    return frozenset(stdnum_codes())


def _stdnum_ric(number: str) -> bool:
    try:
        return ric.is_valid(number)
    except KeyError:  # stdnum's lookup of a province-only entry ("110000") has no county
        return False


def _id_class(number: str, ours: bool) -> str:
    """Why ours and stdnum disagree on `number`."""
    address, birth = number[:6], number[6:14]
    year = int(birth[:4])
    if number[0] == "9":
        return "foreign permanent residence number"
    if address[:2] in ("81", "82", "83"):
        return "HK/Macao/Taiwan residence permit"
    if not ours and (year < 1880 or birth > TODAY.strftime("%Y%m%d")):
        return "future or pre-1880 birth date"
    if ours and address in division_codes() and address not in _stdnum_codes():
        return "address code only in the national history"
    if ours and address in division_codes():
        return "address code valid at another time than the birth year"
    if ours and address.endswith("01"):
        return "市辖区 code counted as its prefecture"
    return "unexplained"


DELIBERATE_ID = {
    # An ID number keeps its address code for life, and people born before a code was
    # created (or after it was abolished) may still carry it: stdnum accepts a code only
    # in the years the county existed under it.
    "address code valid at another time than the birth year": "abolished address codes are accepted",
    # 2018 residence permits of Hong Kong, Macao and Taiwan residents (810000, 820000,
    # 830000) are valid identity documents for registration; stdnum has no such codes.
    "HK/Macao/Taiwan residence permit": "accepted as residence permits",
    # A birth date after today, or before 1880, is a typing slip, not a person.
    "future or pre-1880 birth date": "rejected",
    # The 2023 foreigners' permanent residence ID shares the format (starts with 9);
    # stdnum knows no address code 9xxxxx.
    "foreign permanent residence number": "accepted with its own structure checked",
    # Old cards carry "市辖区" codes (xxxx01) that neither list names; they count as their
    # prefecture (xxxx00) whatever the birth year.
    "市辖区 code counted as its prefecture": "accepted",
    # Codes of the national code history that stdnum's list lacks: created after its
    # list was made (330113 临平区 and 330114 钱塘区, 2021) or short-lived county-level
    # cities directly under a province (329012 昆山市 1989–1990, …). See NATIONAL_ONLY.
    "address code only in the national history": "accepted",
}

# The national history's codes that stdnum's list lacks (each checked to be in the
# national code history, yescallop/areacodes, with its years). Anything new here must be
# looked up before it is added.
NATIONAL_ONLY = {
    "132733": "唐海县 1982–1983",
    "229006": "蛟河市 1989–1990",
    "329012": "昆山市 1989–1990",
    "329013": "启东市 1989–1990",
    "330113": "临平区 2021–",
    "330114": "钱塘区 2021–",
    "339011": "诸暨市 1989–1990",
    "340511": "马鞍山 郊区 1983–1984",
    "360411": "九江 郊区 1983–1984",
    "369001": "瑞昌市 1989–1990",
    "370719": "青州市 1986–1987",
    "370819": "曲阜市 1986–1987",
    "379013": "即墨市 1989–1990",
    "379014": "平度市 1989–1990",
    "419007": "沁阳市 1989–1990",
    "620925": "安西县 2002–2006",
}


def test_the_lists_differ_only_where_explained():
    """Every code of stdnum's list is accepted (the national history, or the supplement
    made from stdnum's list); the national history's extra codes are the listed ones."""
    ours, theirs = division_codes(), _stdnum_codes()
    assert theirs - set(ours) == set()
    assert {c for c in ours if c not in theirs and c[:2] not in ("81", "82", "83")} == set(NATIONAL_ONLY)


@pytest.mark.parametrize(
    "address, current",
    [
        ("230824", "230522"),  # 友谊县 under 佳木斯 1984–1991, now 双鸭山市友谊县
        ("232434", "230522"),  # 友谊县 under 合江地区 (1984)
        ("332801", "331100"),  # 丽水市 under 3328xx 丽水地区 (stdnum's edition), now 丽水市
        ("332522", "331121"),  # 青田县 under 3325xx 丽水地区 (the history's edition)
        ("110201", "110114"),  # 昌平县 1980–1982 code, now 昌平区
        ("130185", "130110"),  # 鹿泉市, abolished 2014, now 鹿泉区
        ("130101", "130100"),  # 石家庄 市辖区 placeholder
        ("330113", "330113"),  # 临平区 (2021), unknown to stdnum's list
    ],
)
def test_historical_address_codes_are_accepted_as_their_current_code(address, current):
    info = validate_id_number(_id(address + "19880101123"), today=TODAY)
    assert (info.address_code, info.current_code) == (address, current)


def test_a_friendship_county_id_number_from_before_the_code_change_is_valid():
    assert validate_id_number("230824198801011230", today=TODAY).current_code == "230522"


def test_a_code_that_never_existed_is_refused():
    # 230834 was a misprint of 友谊县's 230824 in our copy of the list.
    with pytest.raises(IdNumberError, match="地址码 230834 不存在"):
        validate_id_number(_id("230834" + "19880101123"), today=TODAY)


def _random_ids(rng: random.Random, n: int) -> list[str]:
    ours = sorted(division_codes())
    theirs = sorted(_stdnum_codes())
    out = []
    for _ in range(n):
        pick = rng.random()
        if pick < 0.35:
            address = rng.choice(ours)
        elif pick < 0.65:
            address = rng.choice(theirs)
        elif pick < 0.7:
            address = rng.choice(
                [rng.choice(sorted(NATIONAL_ONLY)), f"{rng.randrange(11, 66)}{rng.randrange(1, 30):02d}01"]
            )
        elif pick < 0.8:
            address = rng.choice(["810000", "820000", "830000"])
        elif pick < 0.9:
            address = "9" + rng.choice(["11", "13", "31", "44"]) + rng.choice(["840", "392", "410", "999", "156"])
        else:
            address = f"{rng.randrange(10**6):06d}"
        year = rng.choice([rng.randrange(1930, 2010), rng.randrange(1850, 2040)])
        birth = f"{year}{rng.randrange(1, 13):02d}{rng.randrange(1, 29):02d}"
        first17 = address + birth + f"{rng.randrange(1000):03d}"
        check = id_check_char(first17) if rng.random() < 0.9 else rng.choice("0123456789X")
        out.append(first17 + check)
    return out


def test_id_numbers_agree_with_stdnum_except_the_listed_differences():
    rng = random.Random(14)
    seen: dict[str, int] = {}
    for number in _random_ids(rng, 30_000):
        ours, theirs = _ours_id(number), _stdnum_ric(number)
        if ours != theirs:
            cls = _id_class(number, ours)
            assert cls in DELIBERATE_ID, (number, ours, theirs, cls)
            seen[cls] = seen.get(cls, 0) + 1
    # Each listed difference really occurs in the sample (else the list is stale).
    assert set(seen) == set(DELIBERATE_ID), seen
    assert "unexplained" not in seen


def _uscc_class(code: str, ours: bool) -> str:
    if ours and not code[:8].isdigit():
        return "letter authority code"
    if not ours:
        try:
            validate_uscc(code)
        except USCCError as exc:
            text = str(exc)
            for key in ("第1位", "前两位", "第3至8位", "组织机构代码"):
                if key in text:
                    return key
    return "unexplained"


DELIBERATE_USCC = {
    # GB 32100 table 1 has letter authorities (A 军队, N 农业, Y 其他); stdnum wants digits.
    "letter authority code": "accepted",
    # GB 32100 table 1: the authority (position 1) and the types it registers (position 2).
    "第1位": "rejected: no such registration authority",
    "前两位": "rejected: the authority registers no such institution type",
    # Positions 3–8: a division code that exists or existed (or 100000, national).
    "第3至8位": "rejected: not a division code",
    # Positions 9–17: the GB 11714 organisation code has its own check character.
    "组织机构代码": "rejected: the embedded organisation code's check character is wrong",
}


def test_credit_codes_agree_with_stdnum_except_the_listed_differences():
    rng = random.Random(32100)
    regions = sorted(c for c in division_codes() if c[:2] not in ("81", "82", "83"))
    seen: dict[str, int] = {}
    for _ in range(20_000):
        first = rng.choice("123456789ANY" + "0BCZ")
        second = rng.choice("1234569A")
        region = rng.choice(regions) if rng.random() < 0.8 else f"{rng.randrange(10**6):06d}"
        org = "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRTUWXY") for _ in range(8))
        org += org_check_char(org) if rng.random() < 0.8 else rng.choice("0123456789X")
        first17 = first + second + region + org
        valid_chars = all(c in ALPHABET for c in first17)
        check = uscc_check_char(first17) if valid_chars and rng.random() < 0.9 else rng.choice(ALPHABET)
        code = first17 + check
        ours, theirs = _ours_uscc(code), uscc.is_valid(code)
        if ours != theirs:
            cls = _uscc_class(code, ours)
            assert cls in DELIBERATE_USCC, (code, ours, theirs, cls)
            seen[cls] = seen.get(cls, 0) + 1
    assert set(seen) == set(DELIBERATE_USCC), seen
