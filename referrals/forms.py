"""Forms for referral pages: the list filters and the document upload."""

from django import forms

from authorizations.models import Payer
from healthops.forms import choices_with_blank, limit_sites_to_user, site_filter_field
from scheduling.models import DocumentKind, ServiceType

from .models import Referral


class ReferralFilterForm(forms.Form):
    ORDERS = [
        ("-received_at", "Newest first"),
        ("received_at", "Oldest first"),
        ("patient__family_name", "Patient name"),
        ("site__name", "Site"),
    ]

    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name, MRN, R-id or external id",
                                                      "autocomplete": "off"}))
    stage = forms.ChoiceField(required=False, choices=choices_with_blank(Referral.Stage.choices, "Any stage"))
    status = forms.ChoiceField(required=False, choices=choices_with_blank(Referral.Status.choices, "Any status"))
    priority = forms.ChoiceField(required=False, choices=choices_with_blank(Referral.Priority.choices, "Any priority"))
    site = site_filter_field()
    service_type = forms.ModelChoiceField(required=False, queryset=ServiceType.objects.all(), empty_label="Any service")
    payer = forms.ModelChoiceField(required=False, queryset=Payer.objects.all(), empty_label="Any payer")
    channel = forms.ChoiceField(required=False, choices=choices_with_blank(Referral.Channel.choices, "Any channel"))
    order = forms.ChoiceField(required=False, choices=ORDERS)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        limit_sites_to_user(self.fields["site"], user)


class ReferralDocumentForm(forms.Form):
    kind = forms.ModelChoiceField(queryset=DocumentKind.objects.all(), empty_label="Choose a kind", label="Kind")
    file = forms.FileField(label="File", help_text="PDF, PNG, JPEG, TIFF or plain text.")
