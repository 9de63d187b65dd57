"""Scheduling pages: the board, the appointment list and page with its lifecycle actions, rescheduling, the waitlist."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from healthops.errors import Conflict, DomainError
from healthops.events import events_for
from healthops.ui import redirect_after_post, render_filtered_list, render_page_or_partial

from . import selectors, services, waitlist
from .board import board_day, board_week
from .forms import (
    SLOT_TAKEN,
    AppointmentFilterForm,
    BoardForm,
    CancelForm,
    RescheduleForm,
    SlotSearchForm,
    WaitlistAddForm,
    WaitlistFilterForm,
)
from .models import Appointment, WaitlistEntry, WaitlistOffer


@permission_required("scheduling.view_appointment", raise_exception=True)
def appointment_list(request):
    user = request.user
    return render_filtered_list(
        request, "scheduling/appointment_list.html", AppointmentFilterForm(request.GET, user=user),
        rows=lambda filters: selectors.appointment_list(user=user, filters=filters),
    )


@permission_required("scheduling.view_appointment", raise_exception=True)
def board(request):
    form = BoardForm(request.GET, user=request.user)
    if not form.is_valid():
        return render_page_or_partial(request, "scheduling/board.html", {"form": form}, partial="board", status=400)
    data = form.cleaned_data
    if data["site"] is None:
        grid = None
    elif data["view"] == "week":
        grid = board_week(site=data["site"], day=data["day"])
    else:
        grid = board_day(site=data["site"], day=data["day"], full_day=data["hours"] == "full")
    return render_page_or_partial(request, "scheduling/board.html", {"form": form, "board": grid}, partial="board")


# The appointment page and its actions


def _appointment_or_404(user, pk: int) -> Appointment:
    try:
        return selectors.appointment_detail(user=user, pk=pk)
    except Appointment.DoesNotExist:
        raise Http404("No appointment with that id at your sites.") from None


def _render_appointment(request, appointment: Appointment, *, cancel_form=None, error: str = "", status: int = 200):
    context = {
        "appointment": appointment,
        "referral": appointment.referrals.first(),
        "resources": appointment.booking.resources.all() if appointment.booking_id else [],
        "timeline": events_for([f"appointment/{appointment.pk}"]),
        "actions": selectors.appointment_actions(appointment),
        "can_reschedule": selectors.can_reschedule(appointment),
        "offer": selectors.open_offer(appointment),
        "cancel_form": cancel_form or CancelForm(),
        "error": error,
        "tz": appointment.site.time_zone,
    }
    return render(request, "scheduling/appointment_detail.html", context, status=status)


@permission_required("scheduling.view_appointment", raise_exception=True)
def appointment_detail(request, pk: int):
    return _render_appointment(request, _appointment_or_404(request.user, pk))


@require_POST
@permission_required("scheduling.change_appointment", raise_exception=True)
def appointment_action(request, pk: int, action: str):
    if action not in selectors.APPOINTMENT_ACTIONS:
        raise Http404("No such action.")
    appointment = _appointment_or_404(request.user, pk)
    to_status = selectors.APPOINTMENT_ACTIONS[action][0]
    form = CancelForm(request.POST) if to_status == Appointment.Status.CANCELLED else None
    if form is not None and not form.is_valid():
        return _render_appointment(request, appointment, cancel_form=form, error="Say why it is cancelled.", status=400)
    try:
        if selectors.open_offer(appointment):
            raise Conflict("This slot is held for a waitlist offer; accept or decline the offer instead.")
        changed = services.appointment_transition(appointment=appointment, to_status=to_status, actor=request.user,
                                                  **(form.cleaned_data if form else {}))
    except DomainError as exc:
        return _render_appointment(request, appointment, cancel_form=form, error=exc.message, status=exc.status)
    return redirect_after_post(request, reverse("scheduling:appointment", args=[pk]),
                f"Appointment is now {changed.get_status_display().lower()}.")


def _render_reschedule(request, appointment: Appointment, *, form=None, error: str = "", status: int = 200):
    sites = selectors.sites_offering(service_type=appointment.service_type, user=request.user)
    search = SlotSearchForm(request.GET, sites=sites, default_site=appointment.site)
    valid = search.is_valid()
    suggestions = selectors.slot_suggestions(service_type=appointment.service_type, site_ids=search.site_ids(),
                                             preferences=search.preferences()) if valid else []
    context = {"appointment": appointment, "search": search, "suggestions": suggestions, "error": error,
               "form": form or RescheduleForm(), "tz": appointment.site.time_zone}
    return render_page_or_partial(request, "scheduling/appointment_reschedule.html", context, partial="suggestions",
                                  status=status if valid else 400)


@permission_required("scheduling.change_appointment", raise_exception=True)
def appointment_reschedule(request, pk: int):
    appointment = _appointment_or_404(request.user, pk)
    if request.method != "POST":
        return _render_reschedule(request, appointment)
    form = RescheduleForm(request.POST)
    if not form.is_valid():
        return _render_reschedule(request, appointment, form=form, error="Pick a slot and say why it moves.", status=400)
    data = form.cleaned_data
    try:
        new = services.appointment_reschedule(appointment=appointment, token=data["token"], reason=data["reason"],
                                              text=data["text"], actor=request.user)
    except DomainError as exc:
        error = SLOT_TAKEN if exc.code == "slot-taken" else exc.message
        return _render_reschedule(request, appointment, form=form, error=error, status=exc.status)
    return redirect_after_post(request, reverse("scheduling:appointment", args=[new.pk]),
                               "Rescheduled; this is the new appointment.")


# The waitlist


def _render_waitlist(request, add_form: WaitlistAddForm, status: int = 200):
    user = request.user
    response = render_filtered_list(
        request, "scheduling/waitlist.html", WaitlistFilterForm(request.GET, user=user),
        rows=lambda filters: selectors.waitlist_list(user=user, filters=filters),
        extra=lambda filters: {"add_form": add_form, "open_statuses": selectors.OPEN_ENTRY},
    )
    if status != 200 and response.status_code == 200:
        response.status_code = status
    return response


@permission_required("scheduling.view_appointment", raise_exception=True)
def waitlist_page(request):
    return _render_waitlist(request, WaitlistAddForm(user=request.user))


@require_POST
@permission_required("scheduling.add_appointment", raise_exception=True)
def waitlist_add(request):
    form = WaitlistAddForm(request.POST, user=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            waitlist.waitlist_add(patient=data["patient"], service_type=data["service_type"], actor=request.user,
                                  sites=list(data["sites"]), weekdays=[int(d) for d in data["weekdays"]],
                                  time_of_day=data["time_of_day"], earliest=data["earliest"], latest=data["latest"],
                                  priority=data["priority"])
        except DomainError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect_after_post(request, reverse("scheduling:waitlist"),
                                       f"Added to the waitlist for {data['service_type']}.")
    return _render_waitlist(request, form, status=400)


OFFER_ANSWERS = {"accept": (waitlist.offer_accept, "Offer accepted; the appointment is booked."),
                 "decline": (waitlist.offer_decline, "Offer declined; the slot goes to the next patient.")}


@require_POST
@permission_required("scheduling.change_appointment", raise_exception=True)
def offer_answer(request, pk: int, answer: str):
    if answer not in OFFER_ANSWERS:
        raise Http404("No such answer.")
    try:
        offer = selectors.waitlist_offer_for(user=request.user, pk=pk)
    except WaitlistOffer.DoesNotExist:
        raise Http404("No such offer at your sites.") from None
    service, message = OFFER_ANSWERS[answer]
    try:
        service(offer=offer, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _render_waitlist(request, WaitlistAddForm(user=request.user), status=exc.status)
    return redirect_after_post(request, reverse("scheduling:waitlist"), message)


@require_POST
@permission_required("scheduling.change_appointment", raise_exception=True)
def waitlist_remove(request, pk: int):
    try:
        entry = selectors.waitlist_entry_for(user=request.user, pk=pk)
    except WaitlistEntry.DoesNotExist:
        raise Http404("No such waitlist entry at your sites.") from None
    try:
        waitlist.waitlist_remove(entry=entry, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return _render_waitlist(request, WaitlistAddForm(user=request.user), status=exc.status)
    return redirect_after_post(request, reverse("scheduling:waitlist"), "Removed from the waitlist.")
