"""Small helpers for the dashboard templates: drill-down links and heatmap shades."""

from urllib.parse import urlencode

from django import template
from django.urls import reverse

register = template.Library()


@register.simple_tag
def drill_url(kpi: str, query: str, params: dict | None = None, **more) -> str:
    """The cases behind a figure: the page's filters plus the figure's own narrowing."""
    extra = {**(params or {}), **{k: v for k, v in more.items() if v not in (None, "")}}
    tail = "&".join(filter(None, [query, urlencode(extra)]))
    return f"{reverse('dashboards:cases', args=[kpi])}?{tail}"


@register.simple_tag
def export_url(name: str, query: str, params: str = "") -> str:
    tail = "&".join(filter(None, [query, params]))
    return f"{reverse('dashboards:export-csv', args=[name])}?{tail}"


@register.filter
def heat(value, top=100) -> str:
    """A shade class heat-0 (none) .. heat-5 (highest) for a value against `top`."""
    if value is None:
        return "heat-none"
    try:
        share = float(value) / float(top or 1)
    except (TypeError, ValueError):
        return "heat-none"
    return f"heat-{min(5, max(0, int(share * 5 + (0.999 if share > 0 else 0))))}"


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None


@register.filter
def signed(value) -> str:
    if value is None:
        return "—"
    return f"+{value:g}" if value > 0 else f"{value:g}"
