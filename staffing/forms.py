"""Filters for the staff list."""

from django import forms

from healthops.forms import choices_with_blank, limit_sites_to_user, site_filter_field

from .models import Specialty, StaffMember


class StaffFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or NPI", "autocomplete": "off"}))
    role = forms.ChoiceField(required=False, choices=choices_with_blank(StaffMember.Role.choices, "Any role"))
    site = site_filter_field()
    specialty = forms.ModelChoiceField(required=False, queryset=Specialty.objects.all(), empty_label="Any specialty")

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        limit_sites_to_user(self.fields["site"], user)
