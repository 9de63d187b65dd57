"""Filters for the staffing pages and the roster CSV upload."""

import csv
import io

from django import forms

from healthops.forms import choices_with_blank, limit_sites_to_user, site_filter_field

from .models import Specialty, StaffMember


class StaffFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Search",
                        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Name or NPI", "autocomplete": "off"}))
    role = forms.ChoiceField(required=False, choices=choices_with_blank(StaffMember.Role.choices, "Any role"))
    site = site_filter_field()
    specialty = forms.ModelChoiceField(required=False, queryset=Specialty.objects.all(), empty_label="Any specialty")

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        limit_sites_to_user(self.fields["site"], user)


class WeekForm(forms.Form):
    """A week (any day in it; default this week), optionally one site and one role."""

    week = forms.DateField(required=False, label="Week of", widget=forms.DateInput(attrs={"type": "date"}))
    site = site_filter_field()
    role = forms.ChoiceField(required=False, choices=choices_with_blank(StaffMember.Role.choices, "Any role"))

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        limit_sites_to_user(self.fields["site"], user)


class CoverageCellForm(forms.Form):
    site = forms.ModelChoiceField(queryset=None)
    day = forms.DateField()

    def __init__(self, data=None, *, user, **kwargs):
        super().__init__(data, **kwargs)
        limit_sites_to_user(self.fields["site"], user)


CSV_COLUMNS = ["staff_external_id", "site_code", "department_code", "start", "end"]


class RosterCsvForm(forms.Form):
    """A roster file: columns staff_external_id,site_code,department_code,start,end and optionally id."""

    file = forms.FileField(label="Roster CSV", help_text="Columns: staff_external_id, site_code, department_code, "
                           "start, end (ISO 8601 with offset), optional id.")
    period_start = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}),
                                   help_text="Default: the first shift's day.")
    period_end = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}),
                                 help_text="CSV shifts in the period that the file no longer lists are removed.")

    MAX_BYTES = 2_000_000

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > self.MAX_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB; split it by period.")
        try:
            text = upload.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            raise forms.ValidationError("The file is not UTF-8 text.") from None
        reader = csv.DictReader(io.StringIO(text))
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in CSV_COLUMNS if c not in header]
        if missing:
            raise forms.ValidationError(f"The header lacks the column{'s' if len(missing) > 1 else ''} "
                                        f"{', '.join(missing)}.")
        reader.fieldnames = header
        rows = [{**{k: (v or "").strip() for k, v in row.items() if k}, "_line": reader.line_num} for row in reader]
        if not rows:
            raise forms.ValidationError("The file has a header but no shifts.")
        return rows

    def clean(self):
        data = super().clean()
        start, end = data.get("period_start"), data.get("period_end")
        if start and end and end < start:
            self.add_error("period_end", "The period ends before it starts.")
        return data
