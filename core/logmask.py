"""Mask personal numbers in log records (PIPL): ID numbers and bank accounts never
reach a log file whole, whatever a caller formats into a message."""

import logging
import re

from core.env import redact_url

# 18-character ID numbers (last may be X) and 15-digit old ones; bank accounts of 12-19 digits.
_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})\d{8}(\d{3}[\dXx])(?![0-9A-Za-z])")
_ACCOUNT_RE = re.compile(r"(?<![\d.])(\d{4})\d{4,11}(\d{4})(?![\d.])")


def mask_text(text: str) -> str:
    text = redact_url(text)  # a URL's password (DATABASE_URL, REDIS_URL) never reaches a log
    text = _ID_RE.sub(r"\1********\2", text)
    return _ACCOUNT_RE.sub(r"\1 **** **** \2", text)


class MaskPIIFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True
