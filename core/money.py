"""Money: Decimal yuan with two places, rounded in one place with one mode.

Never pass money through float: parse cells with `to_yuan(str(cell))`.
"""

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

FEN = Decimal("0.01")
ZERO = Decimal("0.00")


class MoneyError(ValueError):
    """A value that cannot be read as an amount of yuan."""


def to_yuan(value) -> Decimal:
    """Return `value` as yuan rounded half-up to the fen. Floats are refused."""
    if isinstance(value, float):
        raise MoneyError("金额不能是浮点数")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise MoneyError(f"“{value}”不是有效金额") from None
    if not amount.is_finite():
        raise MoneyError(f"“{value}”不是有效金额")
    return amount.quantize(FEN, rounding=ROUND_HALF_UP)


def format_yuan(amount: Decimal | None) -> str:
    """'1982400.00' for APIs and files: plain digits, two places."""
    return str(to_yuan(amount if amount is not None else ZERO))


def yuan_text(amount) -> str:
    """'1,982,400.00' for what people read (pages, alarms, messages): the common amount
    format, the same as the templates' `|yuan`."""
    return f"{to_yuan(amount if amount is not None else ZERO):,.2f}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_GROUP_UNITS = ("", "万", "亿", "万亿")


def _four_digits_in_words(n: int) -> str:
    words, pending_zero = "", False
    for unit, digit in zip(("仟", "佰", "拾", ""), f"{n:04d}", strict=True):
        if digit == "0":
            pending_zero = bool(words)
            continue
        words += ("零" if pending_zero else "") + _DIGITS[int(digit)] + unit
        pending_zero = False
    return words


def yuan_in_words(amount) -> str:
    """The amount in Chinese financial capitals (大写金额) as approval forms and cheques
    write it, e.g. 1982400.00 → 壹佰玖拾捌万贰仟肆佰元整, 1005.05 → 壹仟零伍元零伍分.
    Zeros follow the 《支付结算办法》 convention: one 零 for a run of zeros inside the
    number, none at the end of a group."""
    value = to_yuan(amount)
    if value < 0:
        return "负" + yuan_in_words(-value)
    fen_total = int(value * 100)
    whole, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    groups = []
    while whole:
        groups.append(whole % 10000)
        whole //= 10000
    text, need_zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            need_zero = bool(text)
            continue
        if text and (need_zero or group < 1000):
            text += "零"
        text += _four_digits_in_words(group) + _GROUP_UNITS[index]
        need_zero = False
    if text:
        text += "元"
    if not jiao and not fen:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return text
