"""Authorization pages: the list with payer clocks."""

import hmac
import json
from datetime import datetime, time, timedelta

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from healthops.audit import acting_as
from healthops.errors import DomainError
from healthops.integrations.client import record_incoming
from healthops.ui import render_filtered_list

from . import selectors
from .forms import AuthorizationFilterForm, ScorecardForm
from .payer import authorization_notification


@permission_required("authorizations.view_authorization", raise_exception=True)
def authorization_list(request):
    user = request.user
    return render_filtered_list(
        request, "authorizations/authorization_list.html", AuthorizationFilterForm(request.GET),
        rows=lambda filters: selectors.authorization_list(user=user, filters=filters),
    )


@csrf_exempt
@require_POST
def payer_notification(request, token: str):
    """A payer pushes a prior-authorization decision (Da Vinci PAS subscription notification)."""
    expected = settings.PAYER_WEBHOOK_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Http404
    try:
        body = json.loads(request.body)
    except ValueError:
        record_incoming("payer", "notification", ok=False, error="body is not JSON", payload=request.body)
        return JsonResponse({"error": "The body is not JSON."}, status=400)
    try:
        with acting_as() as actor:
            auth = authorization_notification(body=body, actor=actor)
    except DomainError as exc:
        record_incoming("payer", "notification", ok=False, error=exc.message, payload=request.body)
        return JsonResponse({"error": exc.message, "code": exc.code}, status=422)
    record_incoming("payer", "notification", ok=True, subject=f"authorization/{auth.pk}")
    return JsonResponse({"authorization": auth.pk, "status": auth.status})


@permission_required("authorizations.view_authorization", raise_exception=True)
def scorecard(request):
    """Per payer and urgency: volumes, approval and denial rates, decision times and payer-clock breaches."""
    today = timezone.localdate()
    form = ScorecardForm(request.GET or {"from": today - timedelta(days=90), "to": today})
    if not form.is_valid():
        return render(request, "authorizations/scorecard.html",
                      {"errors": form.errors.as_text(), "rows": [], "since": today - timedelta(days=90), "until": today},
                      status=400)
    since, until = form.cleaned_data["from"], form.cleaned_data["to"]
    rows = selectors.payer_scorecard(since=_start_of(since), until=_start_of(until + timedelta(days=1)))
    return render(request, "authorizations/scorecard.html", {"rows": rows, "since": since, "until": until})


def _start_of(day):
    return timezone.make_aware(datetime.combine(day, time.min))
