"""`grouped`: 71151 → "71,151", "1982400.00" → "1,982,400.00" (the way the article prints
figures; Django's zh-hans locale does not group digits)."""

from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def grouped(value):
    if value is None or value == "":
        return "—"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return value
    if number == number.to_integral_value() and "." not in str(value):
        return f"{int(number):,}"
    return f"{number:,.2f}"
