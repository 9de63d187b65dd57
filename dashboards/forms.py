"""The dashboard filters: period, site, department, service type, payer; turned into kpis.Filters with the user's scope."""

from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone

from authorizations.models import Payer
from healthops.models import Department, Site
from healthops.permissions import site_ids_for
from scheduling.models import ServiceType

from .kpis import Filters

DEFAULT_DAYS = 30
MAX_DAYS = 366


def _is_date(value) -> bool:
    try:
        forms.DateField().clean(value)
        return True
    except forms.ValidationError:
        return False


class DashboardFilterForm(forms.Form):
    from_ = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    to = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                         help_text="Inclusive.")
    site = forms.ModelChoiceField(queryset=Site.objects.none(), required=False, empty_label="All sites")
    department = forms.ModelChoiceField(queryset=Department.objects.none(), required=False,
                                        empty_label="All departments")
    service_type = forms.ModelChoiceField(queryset=ServiceType.objects.none(), required=False, label="Service",
                                          empty_label="All services")
    payer = forms.ModelChoiceField(queryset=Payer.objects.none(), required=False, empty_label="All payers")

    def __init__(self, data=None, *, user):
        data = data.copy() if data is not None else {}
        # Show the period the figures are for, not empty date boxes, when the address names none.
        today = timezone.localdate()
        if not data.get("to"):
            data["to"] = today.isoformat()
        if not data.get("from"):
            to = forms.DateField().clean(data["to"]) if _is_date(data["to"]) else today
            data["from"] = (to - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        super().__init__(data)
        self.user = user
        self.scope = site_ids_for(user)
        sites = Site.objects.filter(active=True)
        if self.scope is not None:
            sites = sites.filter(pk__in=self.scope)
        self.fields["site"].queryset = sites
        self.fields["department"].queryset = Department.objects.filter(site__in=sites).select_related("site")
        self.fields["service_type"].queryset = ServiceType.objects.filter(active=True)
        self.fields["payer"].queryset = Payer.objects.filter(active=True)

    def add_prefix(self, field_name):
        return "from" if field_name == "from_" else super().add_prefix(field_name)

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        to = data.get("to") or today
        since = data.get("from_") or to - timedelta(days=DEFAULT_DAYS - 1)
        if since > to:
            raise forms.ValidationError("The period must start before it ends.")
        if (to - since).days >= MAX_DAYS:
            raise forms.ValidationError(f"Choose a period of at most {MAX_DAYS} days.")
        data["from_"], data["to"] = since, to
        return data

    def filters(self) -> Filters:
        """Only after is_valid(). The chosen site is intersected with the user's sites, so a URL cannot widen them."""
        d = self.cleaned_data
        tz = timezone.get_current_timezone()
        sites = self.scope
        if d.get("site"):
            sites = {d["site"].pk}
        return Filters(
            since=datetime.combine(d["from_"], time.min, tz), until=datetime.combine(d["to"] + timedelta(days=1), time.min, tz),
            sites=frozenset(sites) if sites is not None else None,
            department=d["department"].pk if d.get("department") else None,
            service_type=d["service_type"].pk if d.get("service_type") else None,
            payer=d["payer"].pk if d.get("payer") else None,
        )

    def query(self) -> str:
        """The filters as a query string, for drill-down and export links."""
        from urllib.parse import urlencode

        d = self.cleaned_data
        params = {"from": d["from_"].isoformat(), "to": d["to"].isoformat()}
        for name in ("site", "department", "service_type", "payer"):
            if d.get(name):
                params[name] = d[name].pk
        return urlencode(params)
