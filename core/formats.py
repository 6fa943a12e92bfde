"""How figures are printed: `grouped`, 71151 → "71,151", "1982400.00" → "1,982,400.00" (the way
the article prints them; Django's zh-hans locale does not group digits). The template filter of
the same name (portal/templatetags/dashboard_format.py) and the rows rendered in Python
(programs/templatetags/survey_rows.py) both use it."""

from decimal import Decimal, InvalidOperation


def grouped(value):
    if value is None or value == "":
        return "—"
    if type(value) is int:  # the counts of the tables: the common case, without a Decimal
        return f"{value:,}"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return value
    if number == number.to_integral_value() and "." not in str(value):
        return f"{int(number):,}"
    return f"{number:,.2f}"
