"""Scheduling pages: the appointment list."""

from django.contrib.auth.decorators import permission_required

from healthops.ui import render_filtered_list

from . import selectors
from .forms import AppointmentFilterForm


@permission_required("scheduling.view_appointment", raise_exception=True)
def appointment_list(request):
    user = request.user
    return render_filtered_list(
        request, "scheduling/appointment_list.html", AppointmentFilterForm(request.GET, user=user),
        rows=lambda filters: selectors.appointment_list(user=user, filters=filters),
    )
