import logging

from core.logmask import MaskPIIFilter, mask_text


def test_id_and_account_numbers_are_masked():
    assert mask_text("证件 11010519491231002X 账号 6222021402558821374") == (
        "证件 110105********002X 账号 6222 **** **** 1374"
    )


def test_durations_and_ordinary_numbers_are_left_alone():
    assert mask_text("succeeded in 0.02967653s; 1982400 元; 2021-02-11") == (
        "succeeded in 0.02967653s; 1982400 元; 2021-02-11"
    )


def test_filter_masks_formatted_arguments():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "import of %s failed", ("130108199001012316",), None)
    MaskPIIFilter().filter(record)
    assert record.getMessage() == "import of 130108********2316 failed"
