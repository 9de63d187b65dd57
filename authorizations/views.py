"""Authorization pages: the list with payer clocks."""

from django.contrib.auth.decorators import permission_required

from healthops.ui import render_filtered_list

from . import selectors
from .forms import AuthorizationFilterForm


@permission_required("authorizations.view_authorization", raise_exception=True)
def authorization_list(request):
    user = request.user
    return render_filtered_list(
        request, "authorizations/authorization_list.html", AuthorizationFilterForm(request.GET),
        rows=lambda filters: selectors.authorization_list(user=user, filters=filters),
    )
