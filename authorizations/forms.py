"""Filters for the authorization list."""

from django import forms

from healthops.forms import choices_with_blank

from .models import Authorization, Payer


class AuthorizationFilterForm(forms.Form):
    status = forms.ChoiceField(required=False, choices=choices_with_blank(Authorization.Status.choices, "Any status"))
    payer = forms.ModelChoiceField(required=False, queryset=Payer.objects.all(), empty_label="Any payer")
    urgency = forms.ChoiceField(required=False, choices=choices_with_blank(Authorization.Urgency.choices, "Any urgency"))
