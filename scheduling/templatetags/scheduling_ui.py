"""Display helpers for scheduling pages."""

from django import template

register = template.Library()

DAY_NAMES = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


@register.filter
def weekday_names(days) -> str:
    """[0, 2] -> "Mon, Wed" (weekday numbers as the waitlist stores them); "" for none."""
    return ", ".join(DAY_NAMES[d] for d in sorted(days or []) if isinstance(d, int) and 0 <= d <= 6)
