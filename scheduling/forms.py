"""Filters for the appointment list."""

from django import forms
from django.utils import timezone

from healthops.forms import choices_with_blank, limit_sites_to_user, site_filter_field

from .models import Appointment, ServiceType


class AppointmentFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=choices_with_blank(Appointment.Status.choices, "Any status"))
    site = site_filter_field()
    service_type = forms.ModelChoiceField(required=False, queryset=ServiceType.objects.all(), empty_label="Any service",
                                          label="Service")
    date_from = forms.DateField(required=False, label="From",
                                widget=forms.DateInput(attrs={"type": "date", "data-keep-empty": ""}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, *, user, **kwargs):
        if data is not None and "date_from" not in data:
            # Upcoming appointments by default; clearing the field (date_from=) shows the past too.
            data = data.copy()
            data["date_from"] = timezone.localdate().isoformat()
        super().__init__(data, **kwargs)
        limit_sites_to_user(self.fields["site"], user)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("date_from") and cleaned.get("date_to") and cleaned["date_to"] < cleaned["date_from"]:
            self.add_error("date_to", "The end date is before the start date.")
        return cleaned
