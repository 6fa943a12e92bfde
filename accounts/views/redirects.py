"""Where a form goes back to after a POST."""

from django.utils.http import url_has_allowed_host_and_scheme


def next_or(request, default: str) -> str:
    """The form's `next` when it is a URL of this site, else `default`: never an open redirect."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default
