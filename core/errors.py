"""Domain errors raised by services. Views and the API turn them into messages,
400 or 409; services never raise HTTP errors themselves.

This module imports nothing from the apps, so every app may raise these."""


class DomainError(Exception):
    """A request that breaks a business rule; `message` is shown to the user (Chinese)."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, errors: list | dict | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors = errors


class ConflictError(DomainError):
    """The request is valid but the object's state forbids it now (HTTP 409)."""

    code = "conflict"


class PermissionDenied(DomainError):
    """The acting user may not do this (shown as 400 with a reason, not as 403 leaking existence)."""

    code = "forbidden"
