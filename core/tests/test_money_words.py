"""大写金额 as approval forms write it (core.money.yuan_in_words)."""

from decimal import Decimal

import pytest

from core.money import MoneyError, yuan_in_words


@pytest.mark.parametrize(
    ("amount", "words"),
    [
        ("1982400.00", "壹佰玖拾捌万贰仟肆佰元整"),  # 康保县's relief total in the article
        ("500", "伍佰元整"),
        ("10.00", "壹拾元整"),
        ("100000", "壹拾万元整"),
        ("1000010", "壹佰万零壹拾元整"),
        ("10001", "壹万零壹元整"),
        ("100000000", "壹亿元整"),
        ("100010000", "壹亿零壹万元整"),
        ("1005.50", "壹仟零伍元伍角"),
        ("1005.05", "壹仟零伍元零伍分"),
        ("2000.03", "贰仟元零叁分"),
        ("12345678.9", "壹仟贰佰叁拾肆万伍仟陆佰柒拾捌元玖角"),
        ("0.05", "伍分"),
        ("0", "零元整"),
        (Decimal("-500"), "负伍佰元整"),
    ],
)
def test_words(amount, words):
    assert yuan_in_words(amount) == words


def test_float_is_refused():
    with pytest.raises(MoneyError):
        yuan_in_words(1.5)
