"""The manager dashboards: thin views over selectors (figures) and exports; every page also answers as a fragment."""

import json

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone

from . import exports, kpis, selectors
from .forms import DashboardFilterForm

FILTER_NAMES = {"from", "to", "site", "department", "service_type", "payer"}


def _filtered(request) -> DashboardFilterForm:
    if not selectors.may_view_dashboards(request.user):
        raise PermissionDenied("The dashboards are for managers and leads.")
    return DashboardFilterForm(request.GET, user=request.user)


def _page(request, template: str, form, context: dict):
    status = 200 if form.is_valid() else 400
    partial = f"{template}#body" if request.htmx and not request.htmx.boosted else template
    return render(request, partial, {"form": form, "query": form.query() if status == 200 else "", **context},
                  status=status)


def index(request):
    form = _filtered(request)
    figures = selectors.dashboard_figures(form.filters(), timezone.now()) if form.is_valid() else None
    return _page(request, "dashboards/index.html", form, {"figures": figures})


def bottlenecks(request):
    form = _filtered(request)
    figures = selectors.bottleneck_figures(form.filters(), timezone.now()) if form.is_valid() else None
    return _page(request, "dashboards/bottlenecks.html", form, {"figures": figures, "stages": kpis.STAGE_ORDER,
                                                                "stage_labels": kpis.STAGE_LABELS})


def definitions(request):
    if not selectors.may_view_dashboards(request.user):
        raise PermissionDenied("The dashboards are for managers and leads.")
    return render(request, "dashboards/definitions.html", {"definitions": kpis.DEFINITIONS})


def cases(request, kpi: str):
    form = _filtered(request)
    found = selectors.drill(kpi, form.filters(), request.GET, timezone.now()) if form.is_valid() else None
    if form.is_valid() and found is None:
        raise Http404("No such figure.")
    keep = [(k, v) for k, v in request.GET.items() if k not in FILTER_NAMES]
    return _page(request, "dashboards/cases.html", form, {"drill": found, "kpi": kpi, "keep": keep,
                                                           "params": request.GET.urlencode()})


def export_csv(request, name: str):
    form = _filtered(request)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    f, now = form.filters(), timezone.now()
    if name.startswith("cases-"):
        found = selectors.drill(name.removeprefix("cases-"), f, request.GET, now)
        rows = exports.drill_rows(found) if found else None
    else:
        rows = exports.table_rows(name, f, now, selectors.dashboard_figures(f, now), selectors.bottleneck_figures(f, now))
    if rows is None:
        raise Http404("No such table.")
    response = HttpResponse(exports.csv_text(rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="healthops-{name}.csv"'
    return response


def export_ocel(request):
    form = _filtered(request)
    if not form.is_valid():
        return JsonResponse({"errors": form.errors}, status=400)
    response = HttpResponse(json.dumps(exports.ocel(form.filters())), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="healthops-ocel2.json"'
    return response
