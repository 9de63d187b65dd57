"""Staffing pages: the staff list, the weekly roster, coverage, overtime, credentials and roster import."""

from datetime import timedelta

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from healthops.errors import DomainError
from healthops.permissions import site_ids_for
from healthops.ui import redirect_after_post, render_filtered_list, render_page_or_partial

from . import selectors, services
from .forms import CoverageCellForm, RosterCsvForm, StaffFilterForm, WeekForm
from .models import RosterImport, Shift, StaffingSettings


@permission_required("staffing.view_staffmember", raise_exception=True)
def staff_list(request):
    user = request.user
    return render_filtered_list(
        request, "staffing/staff_list.html", StaffFilterForm(request.GET, user=user),
        rows=lambda filters: selectors.staff_list(user=user, filters=filters),
        # Credential numbers and expiry are shown only to roles allowed to view credentials.
        extra=lambda filters: {"show_credentials": user.has_perm("staffing.view_credential")},
    )


def _week_filters(request, default_offset_days: int = 0):
    """(form, site ids to show, monday, role) from ?week=&site=&role=, scoped to the user's sites."""
    form = WeekForm(request.GET, user=request.user)
    if not form.is_valid():
        return form, None, None, ""
    site = form.cleaned_data["site"]
    site_ids = {site.pk} if site else site_ids_for(request.user)
    day = form.cleaned_data["week"] or timezone.localdate() + timedelta(days=default_offset_days)
    return form, site_ids, selectors.monday(day), form.cleaned_data["role"]


@permission_required("staffing.view_shift", raise_exception=True)
def roster(request):
    form, site_ids, week, role = _week_filters(request)
    context = {"form": form, "week": week and selectors.roster_week(site_ids=site_ids, week_start=week, role=role)}
    return render_page_or_partial(request, "staffing/roster.html", context, partial="board",
                                  status=200 if week else 400)


@permission_required("staffing.view_shift", raise_exception=True)
def coverage(request):
    form, site_ids, week, _ = _week_filters(request)
    context = {"form": form, "coverage": week and selectors.coverage_week(site_ids=site_ids, week_start=week)}
    return render_page_or_partial(request, "staffing/coverage.html", context, partial="heatmap",
                                  status=200 if week else 400)


@permission_required("staffing.view_shift", raise_exception=True)
def coverage_cell(request):
    form = CoverageCellForm(request.GET, user=request.user)
    if not form.is_valid():
        return render_page_or_partial(request, "staffing/coverage_cell.html", {"form": form}, partial="detail",
                                      status=400)
    cell, available = selectors.coverage_cell(site=form.cleaned_data["site"], day=form.cleaned_data["day"])
    return render_page_or_partial(request, "staffing/coverage_cell.html",
                                  {"form": form, "cell": cell, "available": available}, partial="detail")


@permission_required("staffing.view_shift", raise_exception=True)
def overtime(request):
    # Default: next week, so risks show before the week starts.
    form, site_ids, week, _ = _week_filters(request, default_offset_days=7)
    # Labor cost covers the whole network: shown to network-wide roles only.
    network_wide = site_ids_for(request.user) is None
    context = {"form": form, "week": week and selectors.overtime_list(site_ids=site_ids, week_start=week),
               "labor": selectors.labor_cost_summary(week_start=week) if week and network_wide else None}
    return render_page_or_partial(request, "staffing/overtime.html", context, partial="lists",
                                  status=200 if week else 400)


@permission_required("staffing.view_staffmember", raise_exception=True)
def credentials(request):
    within = StaffingSettings.current().credential_alert_days
    context = {"credentials": selectors.credentials_expiring(user=request.user, within_days=within),
               "within_days": within, "show_numbers": request.user.has_perm("staffing.view_credential")}
    return render_page_or_partial(request, "staffing/credentials.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("staffing.view_shift", raise_exception=True)
def roster_import(request):
    can_import = request.user.has_perm("staffing.add_shift")
    form, status = RosterCsvForm(), 200
    if request.method == "POST":
        if not can_import:
            raise PermissionDenied("Importing a roster needs permission to add shifts.")
        try:
            if request.POST.get("action") == "pull":
                today = timezone.localdate()
                done = services.roster_pull(start=today, end=today + timedelta(days=41), actor=request.user)
                return redirect_after_post(request, done.get_absolute_url(), _summary(done))
            form = RosterCsvForm(request.POST, request.FILES)
            if form.is_valid():
                rows = form.cleaned_data["file"]
                services.roster_rows_parse(rows)  # refuses the whole file, naming every bad line
                first, last = services.roster_period(rows)
                done = services.roster_import(
                    rows=rows, source=Shift.Source.CSV, actor=request.user,
                    period_start=form.cleaned_data["period_start"] or first,
                    period_end=form.cleaned_data["period_end"] or last)
                return redirect_after_post(request, done.get_absolute_url(), _summary(done))
            status = 400
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = 400
    imports = list(RosterImport.objects.select_related("created_by")[:10])
    shown = _selected_import(request) or (imports[0] if imports else None)
    context = {"form": form, "can_import": can_import, "imports": imports, "shown": shown}
    return render_page_or_partial(request, "staffing/import.html", context, partial="page", status=status)


def _selected_import(request) -> RosterImport | None:
    pk = request.GET.get("show", "")
    return RosterImport.objects.filter(pk=pk).first() if pk.isdigit() else None


def _summary(done: RosterImport) -> str:
    return (f"Roster imported: {done.added} added, {done.changed} changed, {done.removed} removed, "
            f"{done.unchanged} unchanged, {done.conflict_count} conflict{'s' if done.conflict_count != 1 else ''}.")
