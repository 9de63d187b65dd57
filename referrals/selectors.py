"""Reads for referral pages, scoped to the sites a user works for (see healthops.permissions)."""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import (
    Case,
    CharField,
    Count,
    Exists,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from authorizations.models import Authorization, Coverage, EligibilityCheck
from healthops.audit import SYSTEM_USERNAME
from healthops.events import TYPE_PREFIX, events_for
from healthops.models import Event, Patient
from healthops.permissions import site_ids_for
from scheduling.models import Appointment

from .models import Referral, ReferralAppointment, ReferralAuthorization, ReferralDocument, ReferralProcess, WorkItem
from .work import LEAD_PERMISSION, OPEN, models_q_perm

# The permissions the ReferralFlow's human tasks are routed by (`can_lead` works them all; `can_override` is no queue).
WORK_CODENAMES = [codename for codename, _ in ReferralProcess._meta.permissions if codename != "can_override"]


def patients_visible_to(user) -> QuerySet[Patient]:
    """Patients whose home site is one of the user's sites, or who have a referral or appointment there."""
    patients = Patient.objects.select_related("home_site")
    site_ids = site_ids_for(user)
    if site_ids is None:
        return patients
    return patients.filter(
        Q(home_site_id__in=site_ids)
        | Exists(Referral.objects.filter(patient=OuterRef("pk"), site_id__in=site_ids))
        | Exists(Appointment.objects.filter(patient=OuterRef("pk"), site_id__in=site_ids))
    )


def referrals_visible_to(user) -> QuerySet[Referral]:
    referrals = Referral.objects.select_related(
        "patient", "service_type", "site", "department", "referring_organization", "coverage__payer"
    )
    site_ids = site_ids_for(user)
    return referrals if site_ids is None else referrals.filter(site_id__in=site_ids)


REFERRAL_FILTERS = ("q", "stage", "status", "priority", "site", "service_type", "payer", "channel")


def referral_list(*, user, filters: dict) -> QuerySet[Referral]:
    """The referral list with its filters. `filters` holds cleaned values (see referrals.forms.ReferralFilterForm)."""
    referrals = referrals_visible_to(user)
    if q := filters.get("q"):
        q = q.strip()
        match = Q(patient__family_name__icontains=q) | Q(patient__given_name__icontains=q) | Q(patient__mrn__iexact=q)
        if q.upper().startswith("R-") and q[2:].isdigit():
            match |= Q(pk=int(q[2:]))
        elif q.isdigit():
            match |= Q(pk=int(q))
        match |= Q(external_identifier__iexact=q)
        referrals = referrals.filter(match)
    for key, lookup in (("stage", "stage"), ("status", "status"), ("priority", "priority"),
                        ("channel", "source_channel")):
        if value := filters.get(key):
            referrals = referrals.filter(**{lookup: value})
    if site := filters.get("site"):
        referrals = referrals.filter(site=site)
    if service_type := filters.get("service_type"):
        referrals = referrals.filter(service_type=service_type)
    if payer := filters.get("payer"):
        referrals = referrals.filter(coverage__payer=payer)
    return referrals.order_by(filters.get("order") or "-received_at", "-pk")


def referral_stage_counts(*, user, filters: dict) -> list[dict]:
    """How many referrals wait in each stage under the other filters (the stage filter itself is ignored), in one
    aggregate query. One row per stage, in journey order, zeros included."""
    rows = (referral_list(user=user, filters={**filters, "stage": None})
            .order_by().values("stage").annotate(n=Count("pk")))
    counts = {row["stage"]: row["n"] for row in rows}
    return [{"value": value, "label": label, "count": counts.get(value, 0)} for value, label in Referral.Stage.choices]


def referral_detail(*, user, pk: int) -> Referral:
    """One referral with everything its page shows; raises Referral.DoesNotExist outside the user's sites."""
    return referrals_visible_to(user).prefetch_related(
        Prefetch("documents", queryset=ReferralDocument.objects.select_related("kind", "uploaded_by")),
        Prefetch("appointments", queryset=Appointment.objects.select_related("service_type", "site")
                 .prefetch_related("booking__resources__resource")),
        Prefetch("authorizations", queryset=Authorization.objects.select_related("coverage__payer")),
    ).get(pk=pk)


def referral_required_documents(referral: Referral) -> list[dict]:
    """The documents the service type requires, each with whether the referral carries one of that kind.
    Uses the prefetched documents of `referral_detail`."""
    if referral.service_type is None:
        return []
    present = {document.kind_id for document in referral.documents.all()}
    return [{"kind": kind, "present": kind.pk in present} for kind in referral.service_type.required_documents.all()]


def referral_document(*, user, referral_pk: int, pk: int) -> ReferralDocument:
    """One document of a referral the user may see; raises ReferralDocument.DoesNotExist otherwise."""
    return ReferralDocument.objects.select_related("referral").get(
        pk=pk, referral_id=referral_pk, referral__in=referrals_visible_to(user).values("pk")
    )


def referral_timeline(referral: Referral):
    """Events of the referral and of the appointments, authorizations and coverage checks it led to."""
    subjects = [referral.subject]
    subjects += [f"appointment/{a.pk}" for a in referral.appointments.all()]
    subjects += [f"authorization/{a.pk}" for a in referral.authorizations.all()]
    if referral.coverage_id:
        subjects.append(f"coverage/{referral.coverage_id}")
    return events_for(subjects)


def latest_eligibility(referral: Referral) -> EligibilityCheck | None:
    if not referral.coverage_id:
        return None
    return EligibilityCheck.objects.filter(coverage_id=referral.coverage_id).order_by("-checked_at").first()


def audit_trail(referral: Referral):
    """Who saw or changed the referral and its documents (django-auditlog entries), newest first."""
    from auditlog.models import LogEntry

    referral_ct = ContentType.objects.get_for_model(Referral)
    document_ct = ContentType.objects.get_for_model(ReferralDocument)
    document_ids = [str(d.pk) for d in referral.documents.all()]
    return (
        LogEntry.objects.filter(
            Q(content_type=referral_ct, object_pk=str(referral.pk))
            | Q(content_type=document_ct, object_pk__in=document_ids)
        )
        .select_related("actor", "content_type")
        .order_by("-timestamp")
    )


def patient_detail(*, user, pk: int) -> Patient:
    return patients_visible_to(user).prefetch_related(
        Prefetch("coverages", queryset=Coverage.objects.select_related("payer")),
    ).get(pk=pk)


def patient_referrals(*, user, patient: Patient) -> QuerySet[Referral]:
    return referrals_visible_to(user).filter(patient=patient)


def patient_appointments(*, user, patient: Patient) -> QuerySet[Appointment]:
    """The patient's appointments at the user's sites, newest first, with the resources they hold."""
    site_ids = site_ids_for(user)
    appointments = Appointment.objects.filter(patient=patient).select_related("service_type", "site")
    if site_ids is not None:
        appointments = appointments.filter(site_id__in=site_ids)
    return appointments.prefetch_related("booking__resources__resource").order_by("-start", "-pk")


def booking_problem(referral: Referral) -> str | None:
    """Why the referral cannot be booked from its page now, or None."""
    if referral.patient_id is None:
        return "The patient is not matched yet; match the patient before booking."
    if referral.service_type_id is None:
        return "The requested service code is unknown; set the service before booking."
    if not referral.is_open:
        return f"This referral is {referral.get_stage_display().lower()}; there is nothing to book."
    return None


def booking_authorization(referral: Referral) -> Authorization | None:
    """The approved (or partly approved) authorization whose validity bounds the booking dates, latest decision first.
    Uses the prefetched authorizations of `referral_detail`."""
    approved = [a for a in referral.authorizations.all()
                if a.status in (Authorization.Status.APPROVED, Authorization.Status.PARTIAL)]
    return max(approved, key=lambda a: (a.decided_at is not None, a.decided_at, a.pk), default=None)


# Work queues: the human tasks of the ReferralFlow (one WorkItem each), by perspective, in urgency order.

QUEUE_TABS = [("mine", "My tasks"), ("team", "Team queue"), ("held", "On hold"), ("risk", "At risk / overdue"),
              ("done", "Done recently")]
AT_RISK_WITHIN = timedelta(hours=4)
DONE_WITHIN = timedelta(days=7)
AUTH_EXPIRY_RISK_DAYS = 14
URGENCY_HELP = ("Most urgent first: priority (STAT, ASAP, urgent, routine), then the SLA due time (overdue first), "
                "then the referral that has waited longest, then dependency risk (an approved authorization that "
                f"expires within {AUTH_EXPIRY_RISK_DAYS} days, or a payer decision clock already past due).")


def is_lead(user) -> bool:
    return user.is_superuser or user.has_perm(LEAD_PERMISSION)


def _work_permissions(user) -> set[str] | None:
    """The task permissions (`referrals.can_*`) the user holds; None for leads, who may work every task."""
    if is_lead(user):
        return None
    return {p for p in user.get_all_permissions() if p.startswith("referrals.") and p[10:] in WORK_CODENAMES}


def _perspective(tab: str, user, now: datetime) -> Q:
    """Which work items a perspective (tab) shows the user."""
    permissions = _work_permissions(user)
    may_work = Q() if permissions is None else Q(task__owner_permission__in=permissions)
    mine_or_free = Q() if permissions is None else Q(task__owner__isnull=True) | Q(task__owner=user)
    open_ = Q(completed_at__isnull=True, task__status__in=OPEN)
    active = open_ & Q(held_since__isnull=True)
    if tab == "mine":
        return active & Q(task__owner=user)
    if tab == "team":
        return active & Q(task__owner__isnull=True) & may_work
    if tab == "held":
        return open_ & Q(held_since__isnull=False) & may_work & mine_or_free
    if tab == "risk":
        return active & may_work & mine_or_free & (Q(due_at__lte=now + AT_RISK_WITHIN) | Q(escalated_at__isnull=False))
    if tab == "done":
        done = Q(completed_at__gte=now - DONE_WITHIN)
        return done if permissions is None else done & Q(completed_by=user)
    raise ValueError(f"Unknown queue perspective {tab!r}")


def _queue_scope(user, filters: dict, now: datetime) -> QuerySet[WorkItem]:
    """Work items at the user's sites that match the filters (the perspective is applied separately)."""
    items = WorkItem.objects.all()
    site_ids = site_ids_for(user)
    if site_ids is not None:
        items = items.filter(referral__site_id__in=site_ids)
    for key, lookup in (("site", "referral__site"), ("department", "referral__department"),
                        ("service_type", "referral__service_type"), ("task_type", "task_type"),
                        ("priority", "priority"), ("payer", "referral__coverage__payer"), ("assignee", "task__owner")):
        if value := filters.get(key):
            items = items.filter(**{lookup: value})
    if filters.get("age"):
        items = items.filter(referral__received_at__lte=now - timedelta(days=filters["age"]))
    return items


def queue_by_urgency(items: QuerySet[WorkItem], now: datetime) -> QuerySet[WorkItem]:
    """The one definition of urgency (URGENCY_HELP says it in words), as a database ordering so pages stay stable:
    priority rank, then SLA due (overdue first), then the referral's age, then dependency risk."""
    today = now.date()
    links = ReferralAuthorization.objects.filter(referral_id=OuterRef("referral_id"))
    auth_expiring = Q(authorization__status__in=[Authorization.Status.APPROVED, Authorization.Status.PARTIAL],
                      authorization__valid_to__gte=today,
                      authorization__valid_to__lte=today + timedelta(days=AUTH_EXPIRY_RISK_DAYS))
    payer_late = Q(authorization__status__in=[Authorization.Status.SUBMITTED, Authorization.Status.PENDED],
                   authorization__due_at__lt=now)
    return items.annotate(
        priority_rank=Case(*[When(priority=p, then=Value(rank)) for p, rank in Referral.PRIORITY_RANK.items()],
                           default=Value(0), output_field=IntegerField()),
        # The sort needs one EXISTS for every row of the perspective; the two flags a row shows are columns of
        # their own, which PostgreSQL computes after the LIMIT, for the page's rows only.
        dependency_risk=Exists(links.filter(auth_expiring | payer_late)),
        auth_expiring=Exists(links.filter(auth_expiring)),
        payer_late=Exists(links.filter(payer_late)),
    ).order_by("-priority_rank", "due_at", "referral__received_at", "-dependency_risk", "pk")


# What the queue's rows show: whole rows of the eight tables they join cost more to fetch and build than the page's
# own work.
ROW_FIELDS = (
    "task_id", "referral_id", "task_type", "reason", "priority", "due_at", "hold_until", "held_since", "escalated_at",
    "completed_at", "outcome", "task__owner__first_name", "task__owner__last_name", "task__owner__username",
    "completed_by__first_name", "completed_by__last_name", "completed_by__username", "referral__received_at",
    "referral__requested_code", "referral__patient__family_name", "referral__patient__given_name",
    "referral__patient__mrn", "referral__service_type__name", "referral__site__name", "referral__site__time_zone",
)


def _perspective_items(user, tab: str, filters: dict, now: datetime) -> QuerySet[WorkItem]:
    return _queue_scope(user, filters, now).filter(_perspective(tab, user, now))


def queue_items(*, user, tab: str, filters: dict, now: datetime | None = None) -> QuerySet[WorkItem]:
    """One perspective of the work queue as its rows show it (ROW_FIELDS): open ones most urgent first, done ones
    newest first."""
    now = now or timezone.now()
    items = _perspective_items(user, tab, filters, now).select_related(
        "task__owner", "completed_by", "referral__patient", "referral__service_type", "referral__site",
    ).only(*ROW_FIELDS).annotate(sla_state=Case(When(due_at__lt=now, then=Value("overdue")),
                                                When(due_at__lt=now + AT_RISK_WITHIN, then=Value("soon")),
                                                default=Value(""), output_field=CharField()))
    if tab == "done":
        return items.order_by("-completed_at", "-pk")
    return queue_by_urgency(items, now)


def queue_counts(*, user, filters: dict, now: datetime | None = None) -> dict[str, int]:
    """How many items each perspective holds under the filters, in one aggregate query."""
    now = now or timezone.now()
    return _queue_scope(user, filters, now).aggregate(
        **{tab: Count("pk", filter=_perspective(tab, user, now)) for tab, _ in QUEUE_TABS})


def queue_next_task(*, user):
    """The most urgent task in the user's team queue (for "Take the next task"), or None."""
    now = timezone.now()
    item = queue_by_urgency(_perspective_items(user, "team", {}, now), now).select_related("task").first()
    return item.task if item else None


def queue_item(*, user, task_pk: int) -> WorkItem:
    """The work item of one task at the user's sites, with everything its task page shows; raises
    WorkItem.DoesNotExist otherwise."""
    items = _queue_scope(user, {}, timezone.now()).select_related("task__owner", "completed_by")
    item = items.get(task_id=task_pk)
    item.referral = referral_detail(user=user, pk=item.referral_id)
    return item


def queue_tasks(*, user, task_pks: list[int]) -> list:
    """Open tasks by id at the user's sites, locked for a bulk change; raises WorkItem.DoesNotExist if one of them is
    missing, finished or outside the user's sites."""
    items = list(_queue_scope(user, {}, timezone.now()).filter(
        task_id__in=task_pks, completed_at__isnull=True, task__status__in=OPEN).select_related("task"))
    if len(items) != len(set(task_pks)):
        raise WorkItem.DoesNotExist("Some of the selected tasks are finished or not at your sites.")
    return [item.task for item in items]


def queue_assignees(user) -> QuerySet:
    """People a lead can hand work to: active users holding any task permission, at the lead's sites."""
    User = get_user_model()
    holders = Q()
    for codename in WORK_CODENAMES:
        holders |= models_q_perm("referrals", codename)
    people = User.objects.filter(is_active=True).filter(holders).exclude(username=SYSTEM_USERNAME)
    site_ids = site_ids_for(user)
    if site_ids is not None:
        people = people.filter(Q(profile__sites__in=site_ids) | Q(profile__network_wide=True))
    return people.distinct().order_by("first_name", "last_name", "username")


def patient_candidates(*, user, q: str) -> QuerySet[Patient]:
    """Patients at the user's sites whose MRN is `q`, or whose name contains it (for matching a referral)."""
    q = q.strip()
    if not q:
        return Patient.objects.none()
    match = Q(mrn__iexact=q)
    for word in q.replace(",", " ").split():
        match |= Q(family_name__icontains=word) | Q(given_name__icontains=word)
    return patients_visible_to(user).filter(match).order_by("family_name", "given_name", "pk")[:20]


MANUAL_TOUCH_TYPES = ("task.assigned", "override.recorded")


def manual_touches(referral: Referral) -> int:
    """How often a person had to step in: tasks they completed, task (re)assignments and overrides, on the referral
    and on the appointments and bookings it led to."""
    subjects = [referral.subject]
    for appointment_id, booking_id in ReferralAppointment.objects.filter(referral=referral).values_list(
            "appointment_id", "appointment__booking_id"):
        subjects.append(f"appointment/{appointment_id}")
        if booking_id:
            subjects.append(f"booking/{booking_id}")
    types = [f"{TYPE_PREFIX}{short}.v1" for short in MANUAL_TOUCH_TYPES]
    return Event.objects.filter(subject__in=subjects).filter(
        Q(type__in=types) | Q(type=f"{TYPE_PREFIX}task.completed.v1", data__manual=True)).count()


def open_work_item(referral: Referral) -> WorkItem | None:
    """The referral's open human task, if one waits."""
    return (WorkItem.objects.filter(referral=referral, completed_at__isnull=True, task__status__in=OPEN)
            .select_related("task__owner").order_by("-created_at").first())
