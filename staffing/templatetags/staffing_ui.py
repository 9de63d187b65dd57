"""Display helpers for the staffing pages."""

from django import template

register = template.Library()


@register.filter
def hours(minutes: int | None) -> str:
    """Minutes of staff time as hours: 4080 -> "68 h", 90 -> "1.5 h", 0 -> "0 h"."""
    value = round((minutes or 0) / 60, 1)
    return f"{value:g} h"
