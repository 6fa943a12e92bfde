import pytest

from beneficiaries.phone import PhoneError, validate_mobile


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+86 138 1234 5678",
        "86-138-1234-5678",
        "8613812345678",
        "0086 13812345678",
        "１３８１２３４５６７８",
        " 138-1234-5678 ",
        13812345678,
        "13812345678.0",
        "(+86)13812345678",
    ],
)
def test_accepted_forms(raw):
    assert validate_mobile(raw) == "13812345678"


@pytest.mark.parametrize("raw", ["12812345678", "1381234567", "138123456789", "0311-8765432", "abc", "23812345678"])
def test_rejected(raw):
    with pytest.raises(PhoneError, match=r"手机号.*无效"):
        validate_mobile(raw)


def test_empty():
    with pytest.raises(PhoneError, match="不能为空"):
        validate_mobile("  ")
    with pytest.raises(PhoneError, match="不能为空"):
        validate_mobile(None)
