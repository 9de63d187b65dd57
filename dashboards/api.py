"""GET /api/v1/kpis: the dashboard's figures as JSON, from the same selector as the page."""

from django.utils import timezone
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from . import selectors
from .forms import DashboardFilterForm


class KpisView(APIView):
    """Query: from, to (dates, inclusive), site, department, service_type, payer (ids). Default: the last 30 days."""

    def get(self, request):
        if not selectors.may_view_dashboards(request.user):
            raise PermissionDenied("The KPIs are for managers and leads.")
        form = DashboardFilterForm(request.query_params, user=request.user)
        if not form.is_valid():
            return Response({"errors": form.errors.get_json_data()}, status=400)
        return Response(selectors.dashboard_figures(form.filters(), timezone.now()))
