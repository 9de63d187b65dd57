"""Forms of the scheduling pages: list filters, the board's controls, lifecycle actions, slot search, waitlist."""

from django import forms
from django.utils import timezone

from healthops.forms import choices_with_blank, limit_sites_to_user, site_filter_field
from healthops.models import Override, Site

from .board import site_today
from .models import Appointment, ServiceType, WaitlistEntry
from .selectors import board_sites_for, patient_by_mrn
from .slots import Preferences

WEEKDAYS = [(str(value), label[:3]) for value, label in [
    (0, "Monday"), (1, "Tuesday"), (2, "Wednesday"), (3, "Thursday"), (4, "Friday"), (5, "Saturday"), (6, "Sunday")]]


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


class BoardForm(forms.Form):
    """Which site, day and view the board shows. Missing values default to the user's first site, today there, day."""

    site = forms.ModelChoiceField(required=False, queryset=None, empty_label=None, label="Site")
    day = forms.DateField(required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    view = forms.ChoiceField(required=False, choices=[("day", "Day"), ("week", "Week")], label="View")
    hours = forms.ChoiceField(required=False, choices=[("", "Working day"), ("full", "24 hours")], label="Hours")

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["site"].queryset = board_sites_for(user)

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            cleaned["site"] = cleaned.get("site") or self.fields["site"].queryset.first()
            if cleaned["site"] is not None:
                cleaned["day"] = cleaned.get("day") or site_today(cleaned["site"])
            cleaned["view"] = cleaned.get("view") or "day"
        return cleaned


class CancelForm(forms.Form):
    reason = forms.ChoiceField(choices=choices_with_blank(Appointment.CancelReason.choices, "Reason…"),
                               label="Reason")
    text = forms.CharField(required=False, max_length=300, label="Details",
                           widget=forms.TextInput(attrs={"placeholder": "What happened (optional)"}))


class SlotSearchForm(forms.Form):
    """Where and when to look for slots. `site` empty = every site offered; weekdays and time of day rank, not filter."""

    site = forms.ModelChoiceField(required=False, queryset=None, empty_label="Any site that offers it", label="Site",
                                  widget=forms.Select(attrs={"data-keep-empty": ""}))
    weekdays = forms.MultipleChoiceField(required=False, choices=WEEKDAYS, label="Preferred days",
                                         widget=forms.CheckboxSelectMultiple)
    time_of_day = forms.ChoiceField(required=False, choices=WaitlistEntry.TimeOfDay.choices, label="Preferred time")

    def __init__(self, data=None, *, sites, default_site=None, **kwargs):
        if data is not None and "site" not in data and default_site is not None:
            data = data.copy()  # the referral's (or appointment's) own site first; "site=" asks for every site
            data["site"] = str(default_site.pk)
        super().__init__(data, **kwargs)
        self.sites = sites
        self.fields["site"].queryset = Site.objects.filter(pk__in=[s.pk for s in sites])

    def site_ids(self) -> list[int]:
        site = self.cleaned_data.get("site")
        return [site.pk] if site else [s.pk for s in self.sites]

    def preferences(self) -> Preferences:
        return Preferences(weekdays=frozenset(int(d) for d in self.cleaned_data.get("weekdays") or []),
                           time_of_day=self.cleaned_data.get("time_of_day") or "any")


class RescheduleForm(forms.Form):
    """The slot comes from the suggestion's button; reason and details sit above the suggestions (form="book-form")."""

    token = forms.CharField()
    reason = forms.ChoiceField(choices=choices_with_blank(Appointment.CancelReason.choices, "Reason…"),
                               label="Reason", widget=forms.Select(attrs={"form": "book-form"}))
    text = forms.CharField(required=False, max_length=300, label="Details", widget=forms.TextInput(
        attrs={"form": "book-form", "placeholder": "What the patient or clinic asked for (optional)"}))


SLOT_TAKEN = "That slot was just taken; here are fresh suggestions."


class BookForm(forms.Form):
    """A slot token, and an override when a group session is already full."""

    token = forms.CharField()
    override_reason = forms.ChoiceField(required=False, choices=choices_with_blank(Override.ReasonCode.choices,
                                                                                    "Reason for booking beyond capacity…"),
                                        label="Override reason")
    justification = forms.CharField(required=False, max_length=500, label="Justification",
                                    widget=forms.Textarea(attrs={"rows": 2}))

    def override(self) -> dict | None:
        code = self.cleaned_data.get("override_reason")
        return {"reason_code": code, "justification": self.cleaned_data.get("justification", "")} if code else None


# Waitlist

class WaitlistFilterForm(forms.Form):
    STATUSES = [("", "Open (waiting or offered)"), *WaitlistEntry.Status.choices, ("all", "Any status")]

    status = forms.ChoiceField(required=False, choices=STATUSES)
    service_type = forms.ModelChoiceField(required=False, queryset=ServiceType.objects.filter(active=True),
                                          empty_label="Any service", label="Service")
    site = site_filter_field()

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        limit_sites_to_user(self.fields["site"], user)


class WaitlistAddForm(forms.Form):
    mrn = forms.CharField(max_length=32, label="Patient MRN",
                          widget=forms.TextInput(attrs={"placeholder": "e.g. MRN-000123", "autocomplete": "off"}))
    service_type = forms.ModelChoiceField(queryset=ServiceType.objects.filter(active=True), label="Service",
                                          empty_label="Choose a service")
    sites = forms.ModelMultipleChoiceField(required=False, queryset=None, label="Sites (none ticked: any)",
                                           widget=forms.CheckboxSelectMultiple)
    weekdays = forms.MultipleChoiceField(required=False, choices=WEEKDAYS, label="Days (none ticked: any)",
                                         widget=forms.CheckboxSelectMultiple)
    time_of_day = forms.ChoiceField(choices=WaitlistEntry.TimeOfDay.choices, label="Time of day")
    earliest = forms.DateField(required=False, label="Earliest", widget=forms.DateInput(attrs={"type": "date"}))
    latest = forms.DateField(required=False, label="Latest", widget=forms.DateInput(attrs={"type": "date"}))
    priority = forms.IntegerField(min_value=0, max_value=9, initial=0, label="Priority (0-9, higher first)")

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.user = user
        self.fields["sites"].queryset = board_sites_for(user)

    def clean_mrn(self):
        patient = patient_by_mrn(user=self.user, mrn=self.cleaned_data["mrn"])
        if patient is None:
            raise forms.ValidationError("No patient with that MRN at your sites.")
        self.cleaned_data["patient"] = patient
        return self.cleaned_data["mrn"]


class OutsideTemplateForm(forms.Form):
    """Book at a time the schedule does not offer: who, where, when, and the override's reason and justification."""

    day = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    time = forms.TimeField(label="Start (site time)", widget=forms.TimeInput(attrs={"type": "time", "step": 300}))
    staff = forms.ModelChoiceField(queryset=None, label="Clinician", empty_label="Choose…")
    room = forms.ModelChoiceField(queryset=None, required=False, label="Room", empty_label="Choose…")
    override_reason = forms.ChoiceField(choices=choices_with_blank(Override.ReasonCode.choices, "Why outside the schedule…"),
                                        label="Override reason")
    justification = forms.CharField(max_length=500, min_length=10, label="Justification (at least 10 characters)",
                                    widget=forms.TextInput(attrs={"placeholder": "e.g. Dr. Rao stays until 19:00 for "
                                                                                 "this urgent consult"}))

    def __init__(self, data=None, *, service_type: ServiceType, site: Site, **kwargs):
        from healthops.models import Resource

        from .slots import site_plans

        super().__init__(data, **kwargs)
        self.site = site
        plan = next(iter(site_plans(service_type, [site.pk])), None)
        staff_ids = list(plan.staff) if plan else []
        room_ids = plan.rooms if plan else []
        self.fields["staff"].queryset = Resource.objects.filter(pk__in=staff_ids).order_by("name")
        self.fields["room"].queryset = Resource.objects.filter(pk__in=room_ids).order_by("name")
        self.needs_room = bool(service_type.room_kind_id)
        self.fields["room"].required = self.needs_room
        if not self.needs_room:
            del self.fields["room"]
        self.feasible = bool(staff_ids) and (bool(room_ids) or not self.needs_room)

    def start(self):
        from datetime import datetime

        return datetime.combine(self.cleaned_data["day"], self.cleaned_data["time"], tzinfo=self.site.tz)

    def override(self) -> dict:
        return {"reason_code": self.cleaned_data["override_reason"], "justification": self.cleaned_data["justification"]}
