"""What every app's page views share."""

from collections.abc import Callable

from django.contrib import messages

from core.errors import DomainError


def flash_outcome(request, action: Callable[[], object], success: str, *, level: int = messages.SUCCESS) -> bool:
    """Run a service for a page's POST and say how it went on the next page: the service's
    own DomainError message (in Chinese, saying what to do), or `success`. True if it ran."""
    try:
        action()
    except DomainError as exc:
        messages.error(request, exc.message)
        return False
    messages.add_message(request, level, success)
    return True
