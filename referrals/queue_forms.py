"""Forms of the work queues: the queue's filters and bulk assignment, and the task page's actions."""

import uuid
from datetime import datetime, time

from django import forms
from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString, mark_safe

from authorizations.models import Payer
from healthops.forms import choices_with_blank, limit_sites_to_user, site_filter_field
from healthops.models import Department, Override, Patient, Site
from healthops.permissions import site_ids_for
from scheduling.models import ServiceType

from . import selectors
from .models import Referral
from .steps import TASK_STAGE


def task_type_choices() -> list[tuple[str, str]]:
    from .templatetags.queue_ui import task_title

    return [(name, task_title(name)) for name in TASK_STAGE]


class QuickSelect(forms.Select):
    """A <select> with the markup of Django's template, rendered in Python: the queue's filters hold about 80
    options, and rendering each one through the template engine cost the queue page ~20 ms."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"{}>', widget["name"], _attrs(widget["attrs"]))]
        for group_name, options, _ in widget["optgroups"]:
            if group_name:
                parts.append(format_html('\n  <optgroup label="{}">', group_name))
            parts += [format_html('\n  <option value="{}"{}>{}</option>', option["value"], _attrs(option["attrs"]),
                                  option["label"]) for option in options]
            if group_name:
                parts.append("\n  </optgroup>")
        parts.append("\n</select>")
        return mark_safe("".join(parts))


def _attrs(attrs: dict) -> SafeString:
    """HTML attributes as django/forms/widgets/attrs.html writes them (True: the bare name; False: left out)."""
    return mark_safe("".join(f" {conditional_escape(name)}" if value is True else format_html(' {}="{}"', name, value)
                             for name, value in attrs.items() if value is not False))


class QueueFilterForm(forms.Form):
    tab = forms.ChoiceField(required=False, choices=selectors.QUEUE_TABS, widget=forms.HiddenInput)
    site = site_filter_field()
    department = forms.ModelChoiceField(required=False, queryset=Department.objects.none(), empty_label="Any department",
                                        widget=QuickSelect)
    service_type = forms.ModelChoiceField(required=False, queryset=ServiceType.objects.all(), empty_label="Any service",
                                          label="Service", widget=QuickSelect)
    task_type = forms.ChoiceField(required=False, label="Task", widget=QuickSelect)
    priority = forms.ChoiceField(required=False, choices=choices_with_blank(Referral.Priority.choices, "Any priority"),
                                 widget=QuickSelect)
    payer = forms.ModelChoiceField(required=False, queryset=Payer.objects.all(), empty_label="Any payer",
                                   widget=QuickSelect)
    age = forms.IntegerField(required=False, min_value=0, max_value=3650, label="Waiting ≥ days",
                             widget=forms.NumberInput(attrs={"placeholder": "0", "style": "width:6rem"}))
    assignee = forms.ModelChoiceField(required=False, queryset=None, empty_label="Anyone", widget=QuickSelect)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["site"].widget = QuickSelect()
        limit_sites_to_user(self.fields["site"], user)
        site_ids = site_ids_for(user)
        departments = Department.objects.select_related("site").order_by("site__name", "name")
        self.fields["department"].queryset = departments if site_ids is None else departments.filter(site_id__in=site_ids)
        self.fields["department"].label_from_instance = lambda d: f"{d.site.name} · {d.name}"
        self.fields["task_type"].choices = choices_with_blank(task_type_choices(), "Any task")
        if selectors.is_lead(user):
            self.fields["assignee"].queryset = selectors.queue_assignees(user)
            self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username
        else:
            del self.fields["assignee"]
        self._show_cached_reference_choices(site_ids)

    def _show_cached_reference_choices(self, site_ids: set[int] | None) -> None:
        """The reference-data selects offer choices cached for a minute (a query each per page otherwise). Only the
        rendered options come from the cache: a submitted value is still checked against the field's queryset."""
        scope = "all" if site_ids is None else ",".join(map(str, sorted(site_ids)))
        key = f"queue-filter-choices:{cache.get_or_set(CHOICES_GENERATION_KEY, _new_generation, None)}:{scope}"
        choices = cache.get(key)
        if choices is None:
            choices = {name: [(str(value), label) for value, label in self.fields[name].choices]
                       for name in REFERENCE_FIELDS}
            cache.set(key, choices, REFERENCE_CHOICES_TTL)
        for name, field_choices in choices.items():
            self.fields[name].widget.choices = field_choices

    def clean_tab(self):
        return self.cleaned_data.get("tab") or "mine"


# The filter selects whose options are reference data, cached (see QueueFilterForm) for REFERENCE_CHOICES_TTL seconds
# and dropped when one of their rows is saved or deleted in this process (other workers catch up within the TTL).
REFERENCE_FIELDS = ("site", "department", "service_type", "payer")
REFERENCE_CHOICES_TTL = 60
CHOICES_GENERATION_KEY = "queue-filter-choices:generation"


def _new_generation() -> str:
    return uuid.uuid4().hex


@receiver([post_save, post_delete], sender=Site, dispatch_uid="queue_choices_site")
@receiver([post_save, post_delete], sender=Department, dispatch_uid="queue_choices_department")
@receiver([post_save, post_delete], sender=ServiceType, dispatch_uid="queue_choices_service_type")
@receiver([post_save, post_delete], sender=Payer, dispatch_uid="queue_choices_payer")
def _reference_data_changed(**kwargs) -> None:
    cache.set(CHOICES_GENERATION_KEY, _new_generation(), None)


class TaskIdsField(forms.Field):
    """The checked rows' task ids (their scope is checked by the selector, not by a list of choices)."""

    widget = forms.MultipleHiddenInput
    default_error_messages = {"required": "Select the tasks to assign first.", "invalid": "That is not a task id."}

    def to_python(self, value) -> list[int]:
        try:
            return sorted({int(v) for v in value or []})
        except (TypeError, ValueError):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


class BulkAssignForm(forms.Form):
    tasks = TaskIdsField()
    assignee = forms.ModelChoiceField(queryset=None, empty_label="Choose a person…", label="Assign selected to",
                                      error_messages={"required": "Choose who gets the selected tasks."},
                                      widget=QuickSelect)

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["assignee"].queryset = selectors.queue_assignees(user)
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username


# The task page


class EmptyForm(forms.Form):
    """Actions without input (claim, release, resume, documents received, ask the payer)."""

    note = forms.CharField(required=False, max_length=300)


class AssignForm(forms.Form):
    assignee = forms.ModelChoiceField(queryset=None, empty_label="Choose a person…", label="Assign to")

    def __init__(self, data=None, *, task, **kwargs):
        from .work import users_who_may_work

        super().__init__(data, **kwargs)
        self.fields["assignee"].queryset = users_who_may_work(task).exclude(username="healthops-system")
        self.fields["assignee"].label_from_instance = lambda u: u.get_full_name() or u.username


class HoldForm(forms.Form):
    until = forms.DateField(required=False, label="On hold until", help_text="It comes back at 8:00 site time that day.",
                            widget=forms.DateInput(attrs={"type": "date"}))
    until_documents = forms.BooleanField(required=False, label="Until the referrer sends a document")
    note = forms.CharField(required=False, max_length=200, label="Why",
                           widget=forms.TextInput(attrs={"placeholder": "e.g. Referrer promised the order by Friday"}))

    def __init__(self, data=None, *, site, **kwargs):
        super().__init__(data, **kwargs)
        self.site = site

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("until_documents"):
            return cleaned
        if not cleaned.get("until"):
            raise forms.ValidationError("Say until which day the task waits.")
        cleaned["until"] = datetime.combine(cleaned["until"], time(8), tzinfo=self.site.tz)
        if cleaned["until"] <= timezone.now():
            self.add_error("until", "Choose a day in the future.")
        return cleaned


class NoteForm(forms.Form):
    text = forms.CharField(max_length=2000, label="Case note", widget=forms.Textarea(attrs={
        "rows": 2, "placeholder": "What you did or learned (called the referrer, spoke to the payer, …)"}))


class PatientSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Find the patient", widget=forms.TextInput(
        attrs={"type": "search", "placeholder": "MRN or name", "autocomplete": "off"}))


class MatchPatientForm(forms.Form):
    patient = forms.ModelChoiceField(queryset=None, error_messages={"invalid_choice": "That patient is not at your sites."})

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["patient"].queryset = selectors.patients_visible_to(user)


class NewPatientForm(forms.Form):
    mrn = forms.CharField(max_length=32, label="MRN")
    given_name = forms.CharField(max_length=100, label="Given name")
    family_name = forms.CharField(max_length=100, label="Family name")
    birth_date = forms.DateField(label="Birth date", widget=forms.DateInput(attrs={"type": "date"}))
    sex = forms.ChoiceField(choices=Patient.Sex.choices, initial=Patient.Sex.UNKNOWN)
    phone = forms.CharField(max_length=40, required=False)

    def clean_mrn(self):
        mrn = self.cleaned_data["mrn"].strip()
        if Patient.objects.filter(mrn__iexact=mrn).exists():
            raise forms.ValidationError("A patient with this MRN exists: search for them and match instead.")
        return mrn


class TriageForm(forms.Form):
    service_type = forms.ModelChoiceField(queryset=ServiceType.objects.filter(active=True).order_by("name"),
                                          empty_label="Choose the service…", label="Service")


class DocumentsReceivedForm(forms.Form):
    note = forms.CharField(required=False, max_length=300, label="Note", widget=forms.TextInput(
        attrs={"placeholder": "e.g. Faxed by Dr. Rao's office"}))


class VerifyEligibilityForm(forms.Form):
    outcome = forms.ChoiceField(label="Coverage", widget=forms.RadioSelect, choices=[
        ("in-force", "In force"), ("not-in-force", "Not in force")])
    note = forms.CharField(max_length=300, min_length=5, label="Who confirmed it, reference number",
                           widget=forms.TextInput(attrs={"placeholder": "e.g. Payer rep Dana, call ref 88231"}))
    close_reason = forms.CharField(required=False, max_length=300, label="Why the referral closes (when not in force)")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("outcome") == "not-in-force" and not (cleaned.get("close_reason") or "").strip():
            self.add_error("close_reason", "Say why the referral closes (it cannot go on without coverage).")
        return cleaned


class AuthNeededForm(forms.Form):
    auth_needed = forms.ChoiceField(label="Prior authorization needed?", widget=forms.RadioSelect,
                                    choices=[("yes", "Yes: request it from the payer"), ("no", "No: go on to booking")])
    note = forms.CharField(max_length=300, label="Why (policy, payer call reference)")


class DecisionForm(forms.Form):
    decision_code = forms.ChoiceField(label="Decision", choices=[("A1", "A1 Certified (approved)"),
                                                                 ("A3", "A3 Not certified (denied)")])
    auth_number = forms.CharField(required=False, max_length=64, label="Authorization number")
    valid_from = forms.DateField(required=False, label="Valid from", widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(required=False, label="Valid to", widget=forms.DateInput(attrs={"type": "date"}))
    units = forms.IntegerField(required=False, min_value=1, max_value=999, label="Units approved")
    denial_reason = forms.CharField(required=False, max_length=300, label="Denial reason")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("decision_code") == "A1":
            for name in ("auth_number", "valid_from", "valid_to"):
                if not cleaned.get(name):
                    self.add_error(name, "An approval needs this.")
            if cleaned.get("valid_from") and cleaned.get("valid_to") and cleaned["valid_to"] < cleaned["valid_from"]:
                self.add_error("valid_to", "The validity ends before it starts.")
        elif cleaned.get("decision_code") == "A3" and not cleaned.get("denial_reason", "").strip():
            self.add_error("denial_reason", "A denial needs the payer's reason.")
        return cleaned


class AppealOutcomeForm(forms.Form):
    outcome = forms.ChoiceField(label="Appeal outcome", choices=[("overturned", "Overturned: approved"),
                                                                 ("upheld", "Upheld: still denied")])
    auth_number = forms.CharField(required=False, max_length=64, label="Authorization number")
    valid_from = forms.DateField(required=False, label="Valid from", widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(required=False, label="Valid to", widget=forms.DateInput(attrs={"type": "date"}))


class OverrideForm(forms.Form):
    reason_code = forms.ChoiceField(label="Reason", choices=choices_with_blank(Override.ReasonCode.choices, "Reason…"))
    justification = forms.CharField(min_length=10, max_length=500, label="Justification", widget=forms.TextInput(
        attrs={"placeholder": "Why booking cannot wait for the payer's decision"}))


class AppealForm(forms.Form):
    grounds = forms.CharField(min_length=20, max_length=4000, label="Grounds for the appeal", widget=forms.Textarea(
        attrs={"rows": 3, "placeholder": "Why the denial should be reversed: clinical notes, policy reference…"}))


class CloseForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why the referral closes")


class KeepBookingForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why the booking stays", widget=forms.TextInput(
        attrs={"placeholder": "e.g. Patient agreed to self-pay; estimate sent"}))


class CancelAfterDenialForm(forms.Form):
    reason = forms.CharField(max_length=300, label="Why it is cancelled", widget=forms.TextInput(
        attrs={"placeholder": "e.g. Patient declined to pay without coverage"}))


class BookForm(forms.Form):
    token = forms.CharField(error_messages={"required": "Choose a slot to book."})


class InformedForm(forms.Form):
    note = forms.CharField(max_length=300, label="Call note", widget=forms.TextInput(
        attrs={"placeholder": "e.g. Spoke to the patient, confirmed Tue 9:00"}))
