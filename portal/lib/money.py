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
