"""统一社会信用代码 (GB 32100-2015) with its embedded organisation code (GB 11714-1997).

A code is: 1 registration authority, 2 institution type (allowed for that authority,
GB 32100-2015 table 1), 3–8 the registering authority's administrative division
(GB/T 2260: a code that exists or existed; 100000 for national registrations; a
Hebei functional zone's statistical code), 9–17
the organisation code with its own check character, 18 the check character.
"""

import csv
import unicodedata
from pathlib import Path

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


# GB 32100-2015 table 1: registration authority → the institution types it registers.
AUTHORITY_TYPES = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "1234569",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "1239",  # 民政: 社会团体, 民办非企业单位, 基金会, 其他
    "6": "129",  # 旅游: 外国及港澳台旅游部门常驻代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "19",  # 工会: 基层工会, 其他
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "N": "1239",  # 农业: 组级、村级、乡镇级集体经济组织, 其他
    "Y": "1",  # 其他
}
NATIONAL_REGION = "100000"  # registrations by national authorities
ZONES_CSV = Path(__file__).resolve().parent.parent / "regions" / "data" / "hebei_functional_zones.csv"


class USCCError(ValueError):
    """An invalid credit code; the message is Chinese and says what is wrong."""


def _org_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def uscc_check_char(first17: str) -> str:
    total = sum(_VALUE[c] * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    c = 11 - sum(_org_value(ch) * w for ch, w in zip(first8, _ORG_WEIGHTS, strict=True)) % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def normalize_uscc(raw) -> str:
    return "".join(unicodedata.normalize("NFKC", str(raw or "")).split()).upper()


def validate_uscc(raw) -> str:
    """Return the normalized code, or raise USCCError with a Chinese message."""
    code = normalize_uscc(raw)
    if len(code) != 18:
        raise USCCError(f"统一社会信用代码应为18位，当前为{len(code)}位，请核对营业执照。")
    bad = sorted({c for c in code if c not in _VALUE})
    if bad:
        raise USCCError(f"统一社会信用代码含有无效字符“{''.join(bad)}”（不使用 I、O、Z、S、V），请核对营业执照。")
    if uscc_check_char(code[:17]) != code[17]:
        raise USCCError("统一社会信用代码校验位不正确，请核对营业执照上的18位代码。")
    types = AUTHORITY_TYPES.get(code[0])
    if types is None:
        raise USCCError(f"统一社会信用代码第1位“{code[0]}”不是有效的登记管理部门代码，请核对营业执照。")
    if code[1] not in types:
        raise USCCError(
            f"统一社会信用代码前两位“{code[:2]}”无效：登记管理部门“{code[0]}”没有机构类别“{code[1]}”，请核对营业执照。"
        )
    region = code[2:8]
    if not region.isdigit() or not (region == NATIONAL_REGION or _division_exists(region)):
        raise USCCError(f"统一社会信用代码第3至8位“{region}”不是有效的行政区划代码，请核对营业执照。")
    org = code[8:17]
    if not all(c.isdigit() or "A" <= c <= "Z" for c in org[:8]) or org_check_char(org[:8]) != org[8]:
        raise USCCError("统一社会信用代码中的组织机构代码（第9至17位）校验不正确，请核对营业执照。")
    return code


_zone_codes: frozenset[str] | None = None


def _division_exists(code: str) -> bool:
    """A GB/T 2260 code that exists or existed (the national list since 1981), or the
    statistical code of one of Hebei's functional zones (高新区 130171 …), whose market
    regulation bureaus register businesses under it."""
    global _zone_codes
    from beneficiaries.idcard import code_ever_existed

    if _zone_codes is None:
        with open(ZONES_CSV, encoding="utf-8") as f:
            _zone_codes = frozenset(row["code"] for row in csv.DictReader(f))
    return code_ever_existed(code) or code in _zone_codes


def make_uscc(prefix2: str, region6: str, org8: str) -> str:
    """Build a valid code from its parts (for demo and benchmark data)."""
    org = org8 + org_check_char(org8)
    first17 = prefix2 + region6 + org
    return first17 + uscc_check_char(first17)
