"""Who is asking: the client's address, as the public pages count it for their rate limits."""

from django.conf import settings


def client_ip(request) -> str:
    """REMOTE_ADDR (the proxy in front sets it right: SECURE_PROXY_SSL_HEADER setups pass
    X-Forwarded-For; we take its first address only behind a trusted proxy)."""
    if settings.USE_X_FORWARDED_FOR:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR", "")
