"""`yuan`: the one way a page shows an amount of money: grouped digits and two places,
1982400 → "1,982,400.00", "303500" → "303,500.00", None → "—".

It is a template builtin (settings.TEMPLATES), so every template has it without
`{% load %}`; tests/test_amount_format.py checks that every money value in a template
goes through it and that no page shows an amount in another format.
"""

from django import template

from core.money import MoneyError, yuan_text

register = template.Library()


@register.filter(is_safe=True)
def yuan(value):
    if value is None or value == "":
        return "—"
    if isinstance(value, float):  # display only (a chart's JSON); money is never kept as float
        value = repr(value)
    try:
        return yuan_text(value)
    except MoneyError:
        return value
