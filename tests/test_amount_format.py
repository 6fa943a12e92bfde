"""One amount format on every page: `|yuan` (portal/templatetags/money.py).

The template scan fails when a template shows a money value without `|yuan`; the
smoke test of the demo (tests/test_smoke_demo.py) fails when any page a demo login
opens shows an amount in another format.
"""

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.template import Context, Template

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# The last name of a variable that holds yuan ("batch.total", "r.paid", "preview.amount").
MONEY_NAMES = re.compile(
    r"(?:^|[._])(amount|total|paid|failed|pending|entitled|batched|unbatched|budget|budget_cap|difference|"
    r"face_value|cost|benefits_amount|yuan|sum)$"
)
# Names ending so are counts, not money ("paid_count", "total_rows").
NOT_MONEY = re.compile(r"(count|_rows|_lines|_people|percent|_n|progress_total)$")
# Row counts of an import that happen to be called "total".
NOT_MONEY_VARIABLES = {"preview.total", "result.total"}
VARIABLE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
WITH_ARGS = re.compile(r"\{%\s*(?:blocktranslate|blocktrans|with|include)\b[^%]*%\}")
ASSIGN = re.compile(r"(\w+)=((?:\"[^\"]*\"|'[^']*'|[^\s%])+)")


def money_expressions(text: str):
    """Yield (expression, line) for every variable shown or bound in a block tag.

    A name bound by `with name=expression` is checked at its binding (a blocktranslate
    body cannot filter), not where `{{ name }}` shows it."""
    bound = set()
    for tag in WITH_ARGS.finditer(text):
        for name, expression in ASSIGN.findall(tag.group(0)):
            bound.add(name)
            yield expression, text.count("\n", 0, tag.start()) + 1
    for match in VARIABLE.finditer(text):
        if match.group(1) not in bound:
            yield match.group(1), text.count("\n", 0, match.start()) + 1


def is_unformatted_money(expression: str) -> bool:
    variable, *filters = expression.split("|")
    variable = variable.strip()
    if variable in NOT_MONEY_VARIABLES:
        return False
    if not MONEY_NAMES.search(variable) or NOT_MONEY.search(variable):
        return False
    return not any(f.strip().startswith("yuan") for f in filters)


def test_every_money_value_in_every_template_goes_through_yuan():
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        for expression, line in money_expressions(text):
            if is_unformatted_money(expression):
                offenders.append(f"{path.relative_to(TEMPLATES)}:{line}: {{{{ {expression} }}}}")
    assert not offenders, "amounts shown without |yuan:\n" + "\n".join(offenders)


def test_the_scan_finds_an_unformatted_amount():
    assert is_unformatted_money("batch.total")
    assert is_unformatted_money("r.paid|default:0")
    assert not is_unformatted_money("batch.total|yuan")
    assert not is_unformatted_money("by_status.paid.count")
    assert list(money_expressions("{% blocktranslate with amount=x.amount %}{{ amount }}{% endblocktranslate %}"))


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("1982400"), "1,982,400.00"),
        ("303500", "303,500.00"),
        ("303500.00", "303,500.00"),
        (Decimal("4750500.5"), "4,750,500.50"),
        (500, "500.00"),
        (Decimal("0.005"), "0.01"),  # half-up, the project's one rounding
        (None, "—"),
        ("", "—"),
    ],
)
def test_yuan_is_the_common_format_without_a_load_tag(value, shown):
    assert Template("{{ v|yuan }}").render(Context({"v": value})) == shown


# What a page may not show: an amount with two decimals but no thousands separator
# ("302500.00"), used by the smoke walk over every demo page.
UNGROUPED_AMOUNT = re.compile(r"(?<![\d,.:/-])\d{4,}\.\d{2}(?![\d%])")


def ungrouped_amounts(html: str) -> list[str]:
    """Amounts in a page's visible text that are not in the `|yuan` format."""
    text = re.sub(r"<(script|style|code|textarea)\b.*?</\1>", " ", html, flags=re.S | re.I)
    text = re.sub(r"<[^>]+>", " ", text)
    return UNGROUPED_AMOUNT.findall(text)


def test_ungrouped_amounts_are_found_and_grouped_ones_pass():
    assert ungrouped_amounts("<td>302500.00</td>") == ["302500.00"]
    assert ungrouped_amounts("<td>302,500.00</td><td>500.00</td><code>12345.67</code>") == []
