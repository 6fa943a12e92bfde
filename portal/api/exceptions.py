"""One exception handler: domain errors become 400, 403 or 409 with a Chinese message.

403 (PermissionDenied) is only ever about an object the user can see, or about their
own role: objects out of scope are 404 before any service runs (every API view's
queryset is scoped), so a 403 tells nothing about what exists elsewhere."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from core.errors import ConflictError, DomainError, PermissionDenied


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        if isinstance(exc, ConflictError):
            code = status.HTTP_409_CONFLICT
        elif isinstance(exc, PermissionDenied):
            code = status.HTTP_403_FORBIDDEN
        else:
            code = status.HTTP_400_BAD_REQUEST
        body = {"detail": exc.message, "code": exc.code}
        if exc.errors:
            body["errors"] = exc.errors
        return Response(body, status=code)
    return drf_exception_handler(exc, context)
