"""`grouped`: 71151 → "71,151", "1982400.00" → "1,982,400.00" (core/formats.py)."""

from django import template

from core.formats import grouped

register = template.Library()
register.filter("grouped", grouped)
