"""Form helpers shared by the apps' filter forms."""

from django import forms

from .models import Site
from .permissions import site_ids_for


def choices_with_blank(choices, blank: str) -> list[tuple[str, str]]:
    return [("", blank), *choices]


def site_filter_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(required=False, queryset=Site.objects.none(), label="Site")


def limit_sites_to_user(field: forms.ModelChoiceField, user) -> None:
    """Offer only the sites the user works for (all of them for network-wide users); any other id is invalid."""
    site_ids = site_ids_for(user)
    field.queryset = Site.objects.all() if site_ids is None else Site.objects.filter(pk__in=site_ids)
    field.empty_label = "All sites" if site_ids is None else "All my sites"
