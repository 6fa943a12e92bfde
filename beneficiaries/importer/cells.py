"""Turning spreadsheet cells into values, the way real Excel files carry them.

calamine gives str, float (every number in an .xlsx is a float), int (other formats),
bool, date/datetime, or "" for an empty cell; the csv module gives str. Numbers that
are really identifiers (ID, account, phone) must never go through float rounding: a
float can hold at most 15–16 significant digits exactly, so an 18-digit ID number that
Excel stored as a number has already lost digits and is rejected with a message that
says to set the column to text.
"""

import datetime as dt
import re
import unicodedata

MAX_EXACT_FLOAT = 2**53  # every integer below this is exact in a float
EXCEL_EPOCH = dt.date(1899, 12, 30)

_DATE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
_COMPACT_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SCI = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")
_dates: dict[str, dt.date] = {}

DIGITS_LOST = (
    "{label}被 Excel 存成了数字，后几位已丢失（变成了0或科学计数法）：请把该列单元格格式设置为“文本”，重新填写完整号码"
)


class CellError(ValueError):
    """A cell that cannot be read as the column's type; the message is Chinese."""


def text(value) -> str:
    """A cell as stripped text: full-width folded, runs of spaces made single."""
    if value is None:
        return ""
    if isinstance(value, str):
        s = value
    elif isinstance(value, bool):
        return "是" if value else "否"
    elif isinstance(value, float):
        s = str(int(value)) if value.is_integer() and abs(value) < MAX_EXACT_FLOAT else repr(value)
    elif isinstance(value, dt.datetime):
        s = value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    elif isinstance(value, dt.date):
        s = value.isoformat()
    else:
        s = str(value)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    return " ".join(s.split())


def identifier(value, label: str) -> str:
    """An ID/account/phone cell as the digits the user typed, never rounded.

    An int cell is exact; a float cell is exact only below 2**53 (15-digit old ID
    numbers, phones); above that the digits are already gone, so it is rejected."""
    if type(value) is str and value.isalnum() and value.isascii():
        return value  # the common case: digits (and an X) typed as text
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        raise CellError(f"{label}不能是“是/否”，请填写号码")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and 0 <= value < MAX_EXACT_FLOAT:
            return str(int(value))
        raise CellError(DIGITS_LOST.format(label=label))
    s = value if isinstance(value, str) else str(value)
    if not s.isascii():
        s = unicodedata.normalize("NFKC", s)
    s = "".join(s.split())
    if _SCI.match(s):
        raise CellError(DIGITS_LOST.format(label=label))
    return s


def date_value(value, label: str) -> dt.date:
    """A date from a date cell, an Excel serial number, or text such as 2021-01-21,
    2021/1/21, 2021.1.21, 2021年1月21日 or 20210121."""
    if type(value) is str:
        hit = _dates.get(value)
        if hit is not None:
            return hit
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool):
        raise CellError(f"{label}应为日期，如 2021-01-21")
    if isinstance(value, int | float):
        return _serial(value, label)
    s = value if isinstance(value, str) else str(value or "")
    try:
        return _dates[s]
    except KeyError:
        pass
    d = _parse_date_text(s, label)
    if len(_dates) < 10_000:
        _dates[s] = d
    return d


def _serial(value: float, label: str) -> dt.date:
    # Excel's day numbers: 1 = 1900-01-01 (with its 1900 leap-year bug, hence the
    # 1899-12-30 epoch for every date after February 1900). A time part is dropped.
    if not 60 < value < 2958466:
        raise CellError(f"{label}“{text(value)}”不是有效日期，请按 2021-01-21 的格式填写")
    return EXCEL_EPOCH + dt.timedelta(days=int(value))


def _parse_date_text(s: str, label: str) -> dt.date:
    t = unicodedata.normalize("NFKC", s).strip() if not s.isascii() else s.strip()
    if not t:
        raise CellError(f"{label}不能为空，请按 2021-01-21 的格式填写")
    if " " in t or "T" in t:  # "2021-01-21 00:00:00"
        first = t.replace("T", " ").split(" ")[0]
        if _DATE.match(first):
            t = first
    m = _DATE.match(t) or _COMPACT_DATE.match(t)
    if m:
        try:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError:
            raise CellError(f"{label}“{s}”不是有效日期（没有这一天），请核对") from None
    if (t.isdigit() and 5 <= len(t) <= 6) or re.fullmatch(r"\d{5}\.\d+", t):
        return _serial(float(t), label)  # a date cell saved to CSV as its serial number
    raise CellError(f"{label}“{s}”无法识别为日期，请按 2021-01-21 的格式填写")


def int_value(value, label: str, *, default: int = 0, low: int = 0, high: int = 10**6, unit: str = "") -> int:
    """A whole number (a float cell must be whole; "7天" and "3年" are accepted)."""
    if type(value) is str and value.isdigit() and value.isascii():
        n = int(value)  # the common case
        if low <= n <= high:
            return n
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise CellError(f"{label}应为整数")
    if isinstance(value, int):
        n = value
    elif isinstance(value, float):
        if not value.is_integer():
            raise CellError(f"{label}“{text(value)}”应为整数，请去掉小数")
        n = int(value)
    else:
        s = text(value)
        if not s:
            return default
        if unit and s.endswith(unit):
            s = s[: -len(unit)].strip()
        if s.endswith(".0"):
            s = s[:-2]
        # A sign is still a whole number: "-1" is out of range (the same message as a
        # number cell's -1), not "not an integer".
        digits = s[1:] if s[:1] in "+-" else s
        if not (digits.isascii() and digits.isdigit()):
            raise CellError(f"{label}“{text(value)}”应为整数（如 7），请核对")
        n = int(s)
    if not low <= n <= high:
        raise CellError(f"{label}应在{low}至{high}之间，当前为{n}")
    return n


_PLAIN_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff·A-Za-z0-9]{2,50}")
_DOTS = str.maketrans({c: "·" for c in "•・‧∙⋅･●．."})


def person_name(value) -> str:
    """A person's name as typed, cleaned: full-width folded, the dot variants of minority
    and foreign names made "·", spaces inside a Chinese name removed. Any printable text
    is kept (and always shown escaped); control characters and the replacement
    character of a mis-decoded file are refused."""
    if type(value) is str and _PLAIN_NAME.fullmatch(value):
        return value  # the common case: Chinese characters only (NFKC leaves them as they are)
    s = text(value).translate(_DOTS)
    if not s:
        raise CellError("姓名不能为空")
    if any(c >= "\u3400" for c in s if c != "·"):
        s = s.replace(" ", "")
    s = s.strip("·")
    if any(ord(c) < 32 or c == "\ufffd" for c in s):
        raise CellError(
            f"姓名“{s[:30]}”含有无法识别的字符（文件编码可能有误）：请用 Excel 另存为 .xlsx 或 UTF-8 CSV 后重新上传"
        )
    if len(s) < 2:
        raise CellError(f"姓名“{s}”过短，请填写完整姓名")
    if len(s) > 50:
        raise CellError("姓名过长（最多50个字）")
    return s


_plain: dict[tuple, str] = {}


def plain_text(value, label: str, *, max_length: int, required: bool = False) -> str:
    """Free text (bank name, employer name …): control characters refused, length checked."""
    key = (value, label, max_length, required) if type(value) is str and len(value) < 40 else None
    if key is not None:
        hit = _plain.get(key)
        if hit is not None:
            return hit
    s = _plain_text(value, label, max_length=max_length, required=required)
    if key is not None and len(_plain) < 5000:
        _plain[key] = s
    return s


# Names that identify a bank when the full name (with its branch) is written: the
# template's list, the banks a Hebei worker is paid through, and the kinds of rural
# bank whose names start with their county.
KNOWN_BANKS = (
    "工商银行",
    "农业银行",
    "中国银行",
    "建设银行",
    "交通银行",
    "邮政储蓄银行",
    "邮储银行",
    "招商银行",
    "中信银行",
    "光大银行",
    "华夏银行",
    "民生银行",
    "兴业银行",
    "广发银行",
    "平安银行",
    "浦发银行",
    "浦东发展银行",
    "渤海银行",
    "浙商银行",
    "恒丰银行",
    "北京银行",
    "天津银行",
    "河北银行",
    "沧州银行",
    "邯郸银行",
    "承德银行",
    "张家口银行",
    "廊坊银行",
    "唐山银行",
    "衡水银行",
    "邢台银行",
    "保定银行",
    "秦皇岛银行",
    "国家开发银行",
    "农业发展银行",
)
RURAL_BANK_ENDINGS = ("农村商业银行", "农商银行", "农村合作银行", "村镇银行", "信用社", "信用合作联社", "农信社")


def bank_name(value) -> str:
    """The bank of an account: from the template's list, or a full name that names a
    known bank (a branch such as 中国工商银行石家庄分行, a county's 农村商业银行). Anything
    else ("火星银行", a typo) is refused: the bank file would fail at the bank."""
    s = plain_text(value, "开户银行", max_length=100)
    if not s or any(b in s for b in KNOWN_BANKS) or s.endswith(RURAL_BANK_ENDINGS):
        return s
    raise CellError(
        f"开户银行“{s[:30]}”不是可识别的银行：请从下拉列表选择，或填写银行全称（如“中国工商银行石家庄分行”）"
    )


def _plain_text(value, label: str, *, max_length: int, required: bool) -> str:
    s = text(value)
    if not s:
        if required:
            raise CellError(f"{label}不能为空")
        return ""
    if any(ord(c) < 32 or c == "\ufffd" for c in s):
        raise CellError(f"{label}含有无法识别的字符（文件编码可能有误），请核对")
    if len(s) > max_length:
        raise CellError(f"{label}过长（最多{max_length}个字）")
    return s
