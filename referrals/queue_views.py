"""Work queue pages: the queue with its perspectives, filters and bulk assignment, and the task page where a person
acts on one task without switching systems."""

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_POST

from healthops.errors import DomainError
from healthops.ui import PAGE_SIZE, redirect_after_post, render_page_or_partial
from scheduling import selectors as scheduling_selectors

from . import queue_forms as qf
from . import selectors, task_actions
from .forms import ReferralDocumentForm
from .models import WorkItem
from .steps import missing_documents
from .templatetags.queue_ui import QueueRows, task_title
from .work import OPEN, may_work, task_claim

VIEW_QUEUES = "referrals.view_referralprocess"


# The queue


@permission_required(VIEW_QUEUES, raise_exception=True)
def queue(request):
    """GET: one perspective of the queue (page, or its #queue fragment for htmx). POST: a lead's bulk assignment."""
    if request.method == "POST":
        return _bulk_assign(request)
    return _render_queue(request)


def _render_queue(request, *, bulk=None, error: str = "", status: int = 200):
    user, lead = request.user, selectors.is_lead(request.user)
    form = qf.QueueFilterForm(request.GET, user=user)
    context = {"form": form, "lead": lead, "bulk": bulk or (qf.BulkAssignForm(user=user) if lead else None),
               "error": error, "urgency_help": selectors.URGENCY_HELP, "page_obj": None}
    if not form.is_valid():
        return render_page_or_partial(request, "referrals/queue.html", context, partial="queue", status=400)
    filters, tab = form.cleaned_data, form.cleaned_data["tab"]
    counts = selectors.queue_counts(user=user, filters=filters)
    paginator = Paginator(selectors.queue_items(user=user, tab=tab, filters=filters), PAGE_SIZE)
    paginator.count = counts[tab]  # the tab's count is known: no second COUNT over the same rows
    page_obj = paginator.get_page(request.GET.get("page"))
    back = request.get_full_path()
    context |= {"tab": tab, "tabs": [{"key": k, "label": label, "count": counts[k]} for k, label in selectors.QUEUE_TABS],
                "page_obj": page_obj, "rows": _rows(page_obj, tab=tab, back=back), "back": back}
    return render_page_or_partial(request, "referrals/queue.html", context, partial="queue", status=status)


def _rows(page_obj, *, tab: str, back: str) -> list[dict]:
    """The page's rows as the table shows them (see QueueRows), with their links. Each URL is reversed once and
    formatted per row: a reverse() for each link of 50 rows was a fifth of the page's server time."""
    referral, task = _url_format("referrals:detail"), _url_format("queues:task")
    claim, release = _url_format("queues:act", "claim"), _url_format("queues:act", "release")
    next_query = "?next=" + quote(back, safe="/")  # as the template's |urlencode would
    display = QueueRows(tab=tab)
    return [display.row(item) | {"referral_url": referral(item.referral_id),
                                 "task_url": task(item.task_id) + next_query,
                                 "claim_url": claim(item.task_id), "release_url": release(item.task_id)}
            for item in page_obj]


def _url_format(name: str, *args) -> Callable[[int], str]:
    """reverse(name, args=[pk, *args]) for any pk, from one reverse() call."""
    marker = "987654321"
    return reverse(name, args=[int(marker), *args]).replace(marker, "{}", 1).format


def _bulk_assign(request):
    if not selectors.is_lead(request.user):
        raise PermissionDenied("Only leads can assign tasks to others.")
    form = qf.BulkAssignForm(request.POST, user=request.user)
    if not form.is_valid():
        return _render_queue(request, bulk=form, status=400)
    try:
        tasks = selectors.queue_tasks(user=request.user, task_pks=form.cleaned_data["tasks"])
        message = task_actions.assign_selected(tasks=tasks, actor=request.user, data=form.cleaned_data)
    except WorkItem.DoesNotExist as exc:
        return _render_queue(request, bulk=form, error=str(exc), status=400)
    except DomainError as exc:
        return _render_queue(request, bulk=form, error=f"Nothing was assigned: {exc.message}", status=exc.status)
    return redirect_after_post(request, request.get_full_path(), message)


@require_POST
@permission_required(VIEW_QUEUES, raise_exception=True)
def take_next(request):
    """Claim the most urgent task of the user's team queue and open it."""
    task = selectors.queue_next_task(user=request.user)
    if task is None:
        messages.info(request, "Your team queue is empty: nothing waits for you.")
        return redirect("queues:index")
    task_claim(task=task, actor=request.user)
    return redirect_after_post(request, reverse("queues:task", args=[task.pk]),
                               f"You took the most urgent task: R-{task.work_item.referral_id}.")


# The task page


@dataclass(frozen=True)
class Action:
    run: Callable[..., str]
    form: Callable  # (item, user, data, files) -> Form; data None gives the empty form the page shows
    task_types: frozenset[str] = field(default_factory=frozenset)  # empty: every task type
    lead_only: bool = False


def _plain(form_class):
    return lambda item, user, data, files: form_class(data)


ACTIONS: dict[str, Action] = {
    "claim": Action(task_actions.claim, _plain(qf.EmptyForm)),
    "release": Action(task_actions.release, _plain(qf.EmptyForm)),
    "hold": Action(task_actions.hold, lambda item, user, data, files: qf.HoldForm(data, site=item.referral.site)),
    "resume": Action(task_actions.resume, _plain(qf.EmptyForm)),
    "assign": Action(task_actions.assign, lambda item, user, data, files: qf.AssignForm(data, task=item.task),
                     lead_only=True),
    "note": Action(task_actions.note, _plain(qf.NoteForm)),
    "match": Action(task_actions.match_patient, lambda item, user, data, files: qf.MatchPatientForm(data, user=user),
                    frozenset({"patient_match"})),
    "new_patient": Action(task_actions.create_patient, _plain(qf.NewPatientForm), frozenset({"patient_match"})),
    "service": Action(task_actions.choose_service, _plain(qf.TriageForm), frozenset({"triage"})),
    "upload": Action(task_actions.add_document, lambda item, user, data, files: ReferralDocumentForm(data, files),
                     frozenset({"outreach"})),
    "documents_received": Action(task_actions.documents_received, _plain(qf.DocumentsReceivedForm),
                                 frozenset({"outreach"})),
    "verify": Action(task_actions.verify_eligibility, _plain(qf.VerifyEligibilityForm),
                     frozenset({"verify_eligibility"})),
    "auth_needed": Action(task_actions.decide_auth_needed, _plain(qf.AuthNeededForm), frozenset({"auth_determination"})),
    "ask_payer": Action(task_actions.ask_payer, _plain(qf.EmptyForm), frozenset({"auth_follow_up"})),
    "decision": Action(task_actions.record_decision, _plain(qf.DecisionForm), frozenset({"auth_follow_up"})),
    "override": Action(task_actions.book_before_decision, _plain(qf.OverrideForm), frozenset({"auth_follow_up"})),
    "appeal_outcome": Action(task_actions.record_appeal_outcome, _plain(qf.AppealOutcomeForm),
                             frozenset({"auth_follow_up"})),
    "appeal": Action(task_actions.appeal, _plain(qf.AppealForm), frozenset({"denial", "denied_after_booking"})),
    "close": Action(task_actions.close_referral, _plain(qf.CloseForm), frozenset({"denial", "schedule"})),
    "keep": Action(task_actions.keep_booking, _plain(qf.KeepBookingForm), frozenset({"denied_after_booking"})),
    "cancel_booking": Action(task_actions.cancel_after_denial, _plain(qf.CancelAfterDenialForm),
                             frozenset({"denied_after_booking"})),
    "book": Action(task_actions.book, _plain(qf.BookForm), frozenset({"schedule"})),
    "informed": Action(task_actions.patient_informed, _plain(qf.InformedForm), frozenset({"notify_by_phone"})),
}
# Forms every task page shows, whatever its type (the others belong to the task type's action panel).
COMMON_FORMS = {"claim", "release", "hold", "resume", "assign", "note"}


def _item_or_404(user, pk: int) -> WorkItem:
    try:
        return selectors.queue_item(user=user, task_pk=pk)
    except WorkItem.DoesNotExist:
        raise Http404("No such task on a referral at your sites.") from None


@permission_required(VIEW_QUEUES, raise_exception=True)
def task_detail(request, pk: int):
    return _render_task(request, _item_or_404(request.user, pk))


@require_POST
@permission_required(VIEW_QUEUES, raise_exception=True)
def task_act(request, pk: int, action: str):
    """Any action on a task: validate its form, check the user may work the task, run it (all or nothing)."""
    item, act = _item_or_404(request.user, pk), ACTIONS.get(action)
    if act is None or (act.task_types and item.task_type not in act.task_types):
        raise Http404("This task has no such action.")
    if not may_work(request.user, item.task) or (act.lead_only and not selectors.is_lead(request.user)):
        return _render_task(request, item, error="This task belongs to another team; you cannot work it.", status=403)
    form = act.form(item, request.user, request.POST, request.FILES)
    if not form.is_valid():
        return _render_task(request, item, forms={action: form}, error="Check the highlighted fields.", status=400)
    try:
        message = act.run(task=item.task, actor=request.user, data=form.cleaned_data)
    except DomainError as exc:
        return _render_task(request, item, forms={action: form}, error=exc.message, status=exc.status)
    return redirect_after_post(request, _destination(request, item), message)


def _safe(request, url: str) -> str:
    ok = url and url.startswith("/") and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()})
    return url if ok else ""


def _destination(request, item: WorkItem) -> str:
    """Where a successful action goes: `next` when the queue asked; back to the queue when the task is finished
    (`back` keeps the queue's filters); else the task page again."""
    if url := _safe(request, request.POST.get("next", "")):
        return url
    back = _safe(request, request.POST.get("back", ""))
    if WorkItem.objects.filter(pk=item.pk, completed_at__isnull=False).exists():
        return back or reverse("queues:index")
    return reverse("queues:task", args=[item.task_id]) + (f"?{urlencode({'next': back})}" if back else "")


def _render_task(request, item: WorkItem, *, forms: dict | None = None, error: str = "", status: int = 200):
    context = {**task_page_context(request, item, forms or {}), "error": error}
    htmx = getattr(request, "htmx", None)
    if htmx and not htmx.history_restore_request and item.task_type == "patient_match":
        # The patient search asks the same URL for its results only; they live in the patient match panel.
        return render_page_or_partial(request, "referrals/task_actions/patient_match.html", context,
                                      partial="patient-results")
    response = render(request, "referrals/task.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


def task_page_context(request, item: WorkItem, forms: dict) -> dict:
    """Everything the task page shows: the case, and the forms of the actions this task type offers."""
    user, referral = request.user, item.referral
    auths = sorted(referral.authorizations.all(), key=lambda a: a.pk, reverse=True)
    shown = {name: forms.get(name) or act.form(item, user, None, None) for name, act in ACTIONS.items()
             if name in COMMON_FORMS or item.task_type in act.task_types}
    search = qf.PatientSearchForm(request.GET)
    context = {
        "item": item, "task": item.task, "referral": referral, "tz": referral.site.time_zone,
        "title": task_title(item.task_type), "is_open": item.completed_at is None and item.task.status in OPEN,
        "may_work": may_work(user, item.task), "lead": selectors.is_lead(user), "forms": shown,
        "missing": missing_documents(referral), "eligibility": selectors.latest_eligibility(referral),
        "authorization": next((a for a in auths if a.status != "cancelled"), None),
        "timeline": list(selectors.referral_timeline(referral))[::-1], "manual_touches": selectors.manual_touches(referral),
        "back": _safe(request, request.GET.get("next", "")),
        "action_template": [f"referrals/task_actions/{item.task_type}.html", "referrals/task_actions/_other.html"],
        "search": search,
        "candidates": selectors.patient_candidates(user=user, q=search.cleaned_data["q"]) if search.is_valid() else [],
    }
    if item.task_type == "schedule":
        context["problem"] = selectors.booking_problem(referral)
        auth = selectors.booking_authorization(referral)
        context["suggestions"] = [] if context["problem"] else scheduling_selectors.slot_suggestions(
            service_type=referral.service_type, site_ids=[referral.site_id], limit=8,
            valid_from=getattr(auth, "valid_from", None), valid_to=getattr(auth, "valid_to", None))
    return context
