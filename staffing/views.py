"""Staffing pages: the staff list with credentials."""

from django.contrib.auth.decorators import permission_required

from healthops.ui import render_filtered_list

from . import selectors
from .forms import StaffFilterForm


@permission_required("staffing.view_staffmember", raise_exception=True)
def staff_list(request):
    user = request.user
    return render_filtered_list(
        request, "staffing/staff_list.html", StaffFilterForm(request.GET, user=user),
        rows=lambda filters: selectors.staff_list(user=user, filters=filters),
        # Credential numbers and expiry are shown only to roles allowed to view credentials.
        extra=lambda filters: {"show_credentials": user.has_perm("staffing.view_credential")},
    )
