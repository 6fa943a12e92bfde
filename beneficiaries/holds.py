"""What holds a registration's money back, told by the apps above this one.

beneficiaries sits below disbursements, so it cannot ask about fraud signals itself. An
app that can hold a registration's payments registers a function here in its
AppConfig.ready(); the registration page lists what they return, so an officer who opens
a held registration reads why nothing is paid and where to act."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Hold:
    text: str  # what holds it, in the page's language
    url: str = ""  # where an officer acts on it ("" when there is nothing to open)
    suspended: bool = False  # decided (stays held), as against waiting for a review


_providers: list[Callable] = []


def hold_provider(func: Callable) -> Callable:
    """Register `func(registration) -> list[Hold]`."""
    if func not in _providers:
        _providers.append(func)
    return func


def registration_holds(registration) -> list[Hold]:
    return [hold for provider in _providers for hold in provider(registration)]
