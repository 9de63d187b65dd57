"""Filters for the authorization list."""

from django import forms

from healthops.forms import choices_with_blank

from .models import Authorization, Payer


class AuthorizationFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=choices_with_blank(Authorization.Status.choices, "Any status"))
    payer = forms.ModelChoiceField(required=False, queryset=Payer.objects.all(), empty_label="Any payer")
    urgency = forms.ChoiceField(required=False, choices=choices_with_blank(Authorization.Urgency.choices, "Any urgency"))


class ScorecardForm(forms.Form):
    from_ = forms.DateField(label="From")
    to = forms.DateField(label="To")

    def __init__(self, data=None, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["from"] = self.fields.pop("from_")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("from") and cleaned.get("to") and cleaned["to"] < cleaned["from"]:
            raise forms.ValidationError("The end date is before the start date.")
        if cleaned.get("from") and cleaned.get("to") and (cleaned["to"] - cleaned["from"]).days > 731:
            raise forms.ValidationError("Choose a period of two years at most.")
        return cleaned
