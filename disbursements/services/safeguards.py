"""What stands between the public and the programme's money: the programme's safeguards
settings, and the guards on what anyone may type into the public pages (公示 objections,
appeals, the worker's lookup): rate limits and text cleaning."""

import hashlib
import hmac
import unicodedata

from django.conf import settings
from django.core.cache import cache

from disbursements.models import ProgrammeSafeguards
from programs.models import Programme


class RateLimited(Exception):
    """Too many attempts from one source: `message` for the page, `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def clean_text(value, *, max_length: int) -> str:
    """Free text from the public, as it is stored: Unicode NFC, control and invisible
    format characters removed (bidi overrides, zero-width joiners), spaces collapsed,
    capped. Markup is kept as typed and escaped wherever it is shown, so a reader sees
    "<script>" as text instead of running it."""
    text = unicodedata.normalize("NFC", str(value or ""))
    kept = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch)[0] != "C")
    lines = [" ".join(line.split()) for line in kept.split("\n")]
    return "\n".join(line for line in lines if line).strip()[:max_length]


def source_hash(ip: str) -> str:
    """A keyed hash of the filer's address: enough to count abuse, not to find anyone."""
    return hmac.new(settings.SECRET_KEY.encode(), f"gongshi:{ip}".encode(), hashlib.sha256).hexdigest()


def rate_hit(key: str, limit: tuple[int, int]) -> bool:
    """Count one attempt; True when over the limit (cache.add + incr is atomic in Redis)."""
    count, window = limit
    cache.add(key, 0, timeout=window)
    try:
        n = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)
        n = 1
    return n > count


def safeguards_for(programme: Programme) -> ProgrammeSafeguards:
    """The programme's settings, or the defaults (unsaved) when it has none."""
    found = ProgrammeSafeguards.objects.filter(programme=programme).first()
    return found or ProgrammeSafeguards(programme=programme)
