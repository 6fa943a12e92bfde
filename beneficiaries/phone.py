"""Mainland mobile numbers, as employers type them into forms and spreadsheets."""

import re
import unicodedata

_MOBILE = re.compile(r"1[3-9]\d{9}")
_SEPARATORS = str.maketrans("", "", " -()（）\t\u3000")


class PhoneError(ValueError):
    """An invalid mobile number; the message is Chinese and says what to fix."""


def validate_mobile(raw) -> str:
    """Return the 11-digit number: +86 / 86 / 0086 prefix, spaces, dashes and
    full-width characters removed. Raise PhoneError otherwise."""
    s = "" if raw is None else str(raw)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    s = s.translate(_SEPARATORS)
    if not s:
        raise PhoneError("手机号不能为空")
    if s.startswith("+86"):
        s = s[3:]
    elif s.startswith("0086"):
        s = s[4:]
    elif s.startswith("86") and len(s) == 13:
        s = s[2:]
    if s.endswith(".0") and s[:-2].isdigit():  # a number cell read as float: "13812345678.0"
        s = s[:-2]
    if not _MOBILE.fullmatch(s) or not s.isascii():
        raise PhoneError(f"手机号“{raw}”无效：应为以1开头的11位手机号码（第二位为3至9），请核对")
    return s


def clean_contact_phone(s: str) -> str:
    """An employer's contact number: a mobile number, or a landline as typed (7 to 13
    digits besides dashes and spaces; employers give office numbers too). Raise
    PhoneError otherwise."""
    try:
        return validate_mobile(s)
    except PhoneError:
        digits = s.replace("-", "").replace(" ", "")
        if 7 <= len(digits) <= 13 and digits.isdigit():
            return s[:20]
        raise
