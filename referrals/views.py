"""Referral pages: the list, the referral page with its documents, booking from a referral, and the patient page."""

from auditlog.signals import accessed
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.formats import date_format
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST

from healthops.errors import DomainError
from healthops.models import Patient
from healthops.ui import redirect_after_post, render_filtered_list, render_page_or_partial
from scheduling import selectors as scheduling_selectors
from scheduling.forms import SLOT_TAKEN, BookForm, OutsideTemplateForm, SlotSearchForm

from . import selectors
from .forms import ReferralDocumentForm, ReferralFilterForm
from .models import Referral, ReferralDocument
from .services import referral_book as book_referral
from .services import referral_book_outside_template as book_referral_outside_template
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
        "can_book": request.user.has_perm("scheduling.add_appointment") and not selectors.booking_problem(referral),
        "manual_touches": selectors.manual_touches(referral),
        "open_item": selectors.open_work_item(referral),
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


def _outside_form(request, referral: Referral, data=None) -> OutsideTemplateForm | None:
    """The 'book outside the schedule' form, for those allowed to, at the referral's site."""
    if not request.user.has_perm("scheduling.book_outside_template") or referral.service_type_id is None:
        return None
    return OutsideTemplateForm(data, service_type=referral.service_type, site=referral.site, prefix="outside")


def _render_book(request, referral: Referral, *, error: str = "", override: BookForm | None = None, status=200,
                 outside: OutsideTemplateForm | None = None, outside_error: str = ""):
    """The booking page: ranked slots for the referral's service at the sites that offer it (the referral's own site
    first), within the approved authorization's dates."""
    problem = selectors.booking_problem(referral)
    sites = [] if problem else scheduling_selectors.sites_offering(service_type=referral.service_type, user=request.user)
    search = SlotSearchForm(request.GET, sites=sites, default_site=referral.site if referral.site in sites else None)
    authorization = selectors.booking_authorization(referral)
    suggestions = scheduling_selectors.slot_suggestions(
        service_type=referral.service_type, site_ids=search.site_ids(), preferences=search.preferences(),
        valid_from=getattr(authorization, "valid_from", None), valid_to=getattr(authorization, "valid_to", None),
    ) if not problem and search.is_valid() else []
    context = {"referral": referral, "problem": problem, "search": search, "suggestions": suggestions, "sites": sites,
               "authorization": authorization, "error": error, "override": override, "tz": referral.site.time_zone,
               "outside": outside or (None if problem else _outside_form(request, referral)), "outside_error": outside_error}
    return render_page_or_partial(request, "referrals/referral_book.html", context, partial="suggestions",
                                  status=status if search.is_valid() or problem else 400)


@permission_required(["referrals.view_referral", "scheduling.add_appointment"], raise_exception=True)
def referral_book(request, pk: int):
    referral = _referral_or_404(request.user, pk)
    if request.method != "POST":
        return _render_book(request, referral)
    form = BookForm(request.POST)
    if not form.is_valid():
        return _render_book(request, referral, error="Choose a slot to book.", status=400)
    try:
        appointment = book_referral(referral=referral, token=form.cleaned_data["token"], actor=request.user,
                                    override=form.override())
    except DomainError as exc:
        # A full group session can still be booked with an override; a taken slot gets fresh suggestions.
        needs_override = exc.code in ("capacity-full", "staffing-capacity") or (
            form.override() and exc.code != "slot-taken")
        error = SLOT_TAKEN if exc.code == "slot-taken" else exc.message
        return _render_book(request, referral, error=error, override=form if needs_override else None,
                            status=exc.status)
    when = date_format(appointment.start.astimezone(appointment.site.tz), "D M j, H:i T")
    return redirect_after_post(request, referral.get_absolute_url(),
                               f"Booked {appointment.service_type} on {when} at {appointment.site}.")


@require_POST
@permission_required(["referrals.view_referral", "scheduling.add_appointment", "scheduling.book_outside_template"],
                     raise_exception=True)
def referral_book_outside(request, pk: int):
    """Book at a time the schedule does not offer: an audited override with a reason and a justification."""
    referral = _referral_or_404(request.user, pk)
    if problem := selectors.booking_problem(referral):
        return _render_book(request, referral, error=problem, status=409)
    form = _outside_form(request, referral, request.POST)
    if not form.is_valid():
        return _render_book(request, referral, outside=form, status=400)
    try:
        appointment = book_referral_outside_template(
            referral=referral, start=form.start(), staff_resource=form.cleaned_data["staff"],
            room_resource=form.cleaned_data.get("room"), actor=request.user, override=form.override())
    except DomainError as exc:
        return _render_book(request, referral, outside=form, outside_error=exc.message, status=exc.status)
    when = date_format(appointment.start.astimezone(appointment.site.tz), "D M j, H:i T")
    return redirect_after_post(request, referral.get_absolute_url(),
                               f"Booked {appointment.service_type} on {when} at {appointment.site}, outside the "
                               "schedule (override recorded).")


@xframe_options_sameorigin  # ?inline=1 is shown in a frame on the task page
@permission_required("referrals.view_referraldocument", raise_exception=True)
def document_download(request, pk: int, doc_pk: int):
    """The document as a download, or with ?inline=1 for viewing in place; either way the access is audited."""
    try:
        document = selectors.referral_document(user=request.user, referral_pk=pk, pk=doc_pk)
    except ReferralDocument.DoesNotExist:
        raise Http404("No such document on a referral at your sites.") from None
    accessed.send(sender=ReferralDocument, instance=document)
    return FileResponse(document.file.open("rb"), as_attachment=request.GET.get("inline") != "1",
                        filename=document.original_name, content_type=document.content_type)


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
