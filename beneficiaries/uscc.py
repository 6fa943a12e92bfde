"""统一社会信用代码 (GB 32100-2015) with its embedded organisation code (GB 11714-1997)."""

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


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
    org = code[8:17]
    if not all(c.isdigit() or "A" <= c <= "Z" for c in org[:8]) or org_check_char(org[:8]) != org[8]:
        raise USCCError("统一社会信用代码中的组织机构代码（第9至17位）校验不正确，请核对营业执照。")
    return code


def make_uscc(prefix2: str, region6: str, org8: str) -> str:
    """Build a valid code from its parts (for demo and benchmark data)."""
    org = org8 + org_check_char(org8)
    first17 = prefix2 + region6 + org
    return first17 + uscc_check_char(first17)
