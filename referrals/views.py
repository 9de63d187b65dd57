"""Referral pages: the list, the referral page with its documents, and the patient page."""

from auditlog.signals import accessed
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from healthops.errors import DomainError
from healthops.models import Patient
from healthops.ui import render_filtered_list

from . import selectors
from .forms import ReferralDocumentForm, ReferralFilterForm
from .models import Referral, ReferralDocument
from .services import referral_document_add


@permission_required("referrals.view_referral", raise_exception=True)
def referral_list(request):
    user = request.user
    return render_filtered_list(
        request, "referrals/referral_list.html", ReferralFilterForm(request.GET, user=user),
        rows=lambda filters: selectors.referral_list(user=user, filters=filters),
        extra=lambda filters: {"stage_counts": selectors.referral_stage_counts(user=user, filters=filters),
                               "active_stage": filters["stage"]},
    )


def _referral_or_404(user, pk: int) -> Referral:
    try:
        return selectors.referral_detail(user=user, pk=pk)
    except Referral.DoesNotExist:
        raise Http404("No referral with that id at your sites.") from None


def _render_detail(request, referral: Referral, upload_form: ReferralDocumentForm, status: int = 200):
    context = {
        "referral": referral,
        "required_documents": selectors.referral_required_documents(referral),
        "eligibility": selectors.latest_eligibility(referral),
        "timeline": selectors.referral_timeline(referral),
        "audit_entries": selectors.audit_trail(referral)[:100],
        "upload_form": upload_form,
        "tz": referral.site.time_zone,
    }
    return render(request, "referrals/referral_detail.html", context, status=status)


@permission_required("referrals.view_referral", raise_exception=True)
def referral_detail(request, pk: int):
    referral = _referral_or_404(request.user, pk)
    accessed.send(sender=Referral, instance=referral)
    return _render_detail(request, referral, ReferralDocumentForm())


@require_POST
@permission_required("referrals.add_referraldocument", raise_exception=True)
def document_upload(request, pk: int):
    referral = _referral_or_404(request.user, pk)
    form = ReferralDocumentForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            # The type is judged from the file name, the same way the download will be served.
            referral_document_add(referral=referral, kind=form.cleaned_data["kind"], file=upload,
                                  original_name=upload.name, actor=request.user)
        except DomainError as exc:
            form.add_error("file", exc.message)
        else:
            messages.success(request, f"{form.cleaned_data['kind']} added to R-{referral.pk}.")
            return redirect(referral)
    return _render_detail(request, referral, form, status=400)


@permission_required("referrals.view_referraldocument", raise_exception=True)
def document_download(request, pk: int, doc_pk: int):
    try:
        document = selectors.referral_document(user=request.user, referral_pk=pk, pk=doc_pk)
    except ReferralDocument.DoesNotExist:
        raise Http404("No such document on a referral at your sites.") from None
    accessed.send(sender=ReferralDocument, instance=document)
    return FileResponse(document.file.open("rb"), as_attachment=True, filename=document.original_name,
                        content_type=document.content_type)


@permission_required("healthops.view_patient", raise_exception=True)
def patient_detail(request, pk: int):
    try:
        patient = selectors.patient_detail(user=request.user, pk=pk)
    except Patient.DoesNotExist:
        raise Http404("No patient with that id at your sites.") from None
    accessed.send(sender=Patient, instance=patient)
    context = {
        "patient": patient,
        "referrals": selectors.patient_referrals(user=request.user, patient=patient),
        "appointments": selectors.patient_appointments(user=request.user, patient=patient),
    }
    return render(request, "referrals/patient_detail.html", context)
