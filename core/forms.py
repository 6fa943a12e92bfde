"""What every app's forms share."""

from django import forms

from core.errors import DomainError


def apply_domain_error(form: forms.Form, exc: DomainError) -> None:
    """Put a service's DomainError beside the fields it names (or on top of the form)."""
    errors = exc.errors if isinstance(exc.errors, dict) else {}
    placed = False
    for field, message in errors.items():
        if field in form.fields:
            form.add_error(field, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)
