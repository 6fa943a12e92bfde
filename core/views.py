"""What every app's page views share."""

from collections.abc import Callable

from django.contrib import messages
from django.utils.http import url_has_allowed_host_and_scheme

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


def next_or(request, default: str) -> str:
    """The form's `next` when it is a URL of this site, else `default`: never an open redirect."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default
