"""The API's front doors: `/api/` (docs, schema and every API version) and `/api/v1/`
(every list or action of v1 that needs no id, found by walking the URL patterns, so an
API added by any app is listed without anyone remembering to list it here).

Both are open to anonymous callers: they name addresses only, never data; every
address they point to keeps its own authentication and scope.
"""

import re

from django.urls import URLPattern, URLResolver, get_resolver, reverse
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

# A route with a path converter ("<int:pk>/") or a regex group ("(?P<pk>…)") needs an id.
_PARAM = re.compile(r"<[^>]+>|\(\?P<|\(")


def _route(pattern) -> str | None:
    """The literal text of a pattern's route, or None when it takes a parameter."""
    text = str(pattern.pattern)
    if _PARAM.search(text):
        return None
    return text.lstrip("^").rstrip("$").replace("\\.", ".")


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = _route(pattern)
        if route is None:
            continue
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + route)
        elif isinstance(pattern, URLPattern) and prefix + route:
            yield prefix + route, pattern.name


def v1_endpoints() -> list[tuple[str, str]]:
    """(route under /api/v1/, url name) of every v1 endpoint without a parameter, sorted."""
    # Walked from the root URLconf (not by importing portal.api.urls, which imports this module).
    base = reverse("api-root").lstrip("/")
    seen = {}
    for route, name in _walk(get_resolver().url_patterns):
        if route.startswith(base) and name and name != "api-root":
            seen.setdefault(route[len(base) :], name)
    return sorted(seen.items())


class ApiIndexView(APIView):
    """`/api/`: where the documentation is and which API versions there are."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request):
        return Response(
            {
                "docs": request.build_absolute_uri(reverse("swagger-ui")),
                "schema": request.build_absolute_uri(reverse("schema")),
                "versions": {"v1": request.build_absolute_uri(reverse("api-root"))},
            }
        )


class ApiRootView(APIView):
    """`/api/v1/`: every API of version 1, by name (the route), with its address."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(exclude=True)
    def get(self, request):
        base = reverse("api-root")
        return Response(
            {route.rstrip("/"): request.build_absolute_uri(base + route) for route, _name in v1_endpoints()}
        )
