"""The web intake form: a coordinator records a referral that came by phone, fax or e-mail."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import redirect, render

from healthops.errors import DomainError
from healthops.models import Organization, Patient, Site
from healthops.permissions import site_ids_for
from scheduling.models import DocumentKind, ServiceType

from .models import Referral
from .services import referral_intake


class IntakeForm(forms.Form):
    mrn = forms.CharField(label="Patient MRN", required=False,
                          help_text="Leave empty if the patient is not known yet: the referral goes to patient match.")
    service_type = forms.ModelChoiceField(ServiceType.objects.filter(active=True), label="Service")
    site = forms.ModelChoiceField(Site.objects.filter(active=True), label="Site that will see the patient")
    priority = forms.ChoiceField(choices=Referral.Priority.choices, initial=Referral.Priority.ROUTINE)
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Clinical reason")
    referring_organization = forms.ModelChoiceField(
        Organization.objects.filter(kind=Organization.Kind.PRACTICE, active=True), label="Referring practice")
    referring_practitioner = forms.CharField(required=False, label="Referring practitioner")
    source_channel = forms.ChoiceField(choices=[(c, label) for c, label in Referral.Channel.choices
                                                if c in ("web", "fax", "phone")], initial="fax", label="Received by")
    external_identifier = forms.CharField(required=False, label="Sender's reference")
    document_kind = forms.ModelChoiceField(DocumentKind.objects.all(), required=False, label="Attached document kind")
    document = forms.FileField(required=False, label="Document (PDF, image or text)")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        site_ids = site_ids_for(user)
        if site_ids is not None:
            self.fields["site"].queryset = Site.objects.filter(active=True, pk__in=site_ids)
        self.user = user

    def clean_mrn(self):
        mrn = self.cleaned_data["mrn"].strip()
        if not mrn:
            return None
        patient = Patient.objects.filter(mrn__iexact=mrn).first()
        if patient is None:
            raise forms.ValidationError("No patient has this MRN. Leave it empty to match the patient later.")
        return patient

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("document") and not cleaned.get("document_kind"):
            self.add_error("document_kind", "Say what kind of document this is.")
        return cleaned


@permission_required("referrals.add_referral", raise_exception=True)
def referral_new(request):
    form = IntakeForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        patient = data.pop("mrn")
        try:
            referral = referral_intake(
                actor=request.user, patient=patient, document=data.pop("document"),
                document_kind=data.pop("document_kind"),
                coverage=patient.coverages.filter(status="active").order_by("priority").first() if patient else None,
                **data)
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Referral R-{referral.pk} recorded; HealthOps is working it now.")
            return redirect(referral.get_absolute_url())
    return render(request, "referrals/referral_new.html", {"form": form}, status=400 if form.errors else 200)
