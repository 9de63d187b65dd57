"""The ReferralFlow: every referral from intake to booked. Routing only; the work is in referrals.steps and services.

Automated steps are django-q2 jobs; every way a step can fail ends in a named human task with its reason. Human
tasks are routed to roles by permission (granted to groups in healthops.permissions).
"""

from viewflow import this
from viewflow.workflow import flow, lock

from . import gates, sla, steps
from .gateways import If, Switch
from .models import ReferralProcess
from .qjob import Job
from .task_views import TaskView

P = "referrals."


def _view(title: str, permission: str):
    """A human task for a role, with its queue facts and an SLA timer that escalates it to the leads on breach."""
    return (flow.View(TaskView.as_view()).Annotation(title=title).Permission(P + permission)
            .onCreate(steps.open_work_item)
            .OnTimeout(sla.due, this.sla_breached, interrupting=False, title="SLA breached"))


def _auth_cases(switch):
    """Prior authorization needed, not needed, or unknown (a person decides): the last cases of a routing switch."""
    return (switch.Case(this.authorize, lambda a: a.process.auth_needed is True)
            .Case(this.match, lambda a: a.process.auth_needed is False)
            .Default(this.auth_determination))


class ReferralFlow(flow.Flow):
    """Referral

    Intake, patient match, completeness, eligibility, prior authorization, matching and booking, notification.
    """

    process_class = ReferralProcess
    lock_impl = lock.select_for_update_lock
    process_title = "Referral"
    process_summary_template = "Referral R-{{ process.referral_id }}"

    start = flow.StartHandle(steps.start).Annotation(title="Referral received").Next(this.route)

    # What the referral still lacks, in order; each person's task comes back here.
    route = (Switch().Annotation(title="Who, what and which documents?")
             .Case(this.patient_match, lambda a: a.process.referral.patient_id is None)
             .Case(this.triage, lambda a: a.process.referral.service_type_id is None)
             .Case(this.outreach, lambda a: not steps.documents_complete(a.process))
             .Default(this.eligibility))
    patient_match = _view("Match the patient", "can_match_patient").Next(this.route)
    triage = _view("Triage: choose the service", "can_match_patient").Next(this.route)
    outreach = _view("Get the missing documents", "can_outreach").Next(this.route)

    eligibility = Job(steps.run_eligibility).Annotation(title="Check eligibility").OnFailure(
        this.verify_eligibility).Next(this.is_eligible)
    is_eligible = _auth_cases(Switch().Annotation(title="Covered? Prior authorization?").Case(
        this.verify_eligibility, lambda a: a.process.eligibility != "in-force"))
    verify_eligibility = _view("Verify eligibility", "can_verify_eligibility").Next(this.verified)
    verified = _auth_cases(Switch().Annotation(title="Verified? Prior authorization?").Case(
        this.closed, lambda a: a.process.eligibility != "in-force"))

    needs_auth = _auth_cases(Switch().Annotation(title="Prior authorization?"))
    auth_determination = _view("Decide whether prior authorization is needed", "can_work_authorizations").Next(
        this.needs_auth)
    authorize = Job(steps.run_authorization).Annotation(title="Request prior authorization").OnFailure(
        this.auth_follow_up).Next(this.auth_decided)
    auth_decided = (Switch()
                    .Case(this.match, lambda a: a.process.auth_status in ("approved", "partial")
                          or a.process.auth_overridden)
                    .Case(this.denial, lambda a: a.process.auth_status == "denied")
                    .Case(this.closed, lambda a: a.process.auth_status == "closed")
                    .Default(this.auth_follow_up))
    auth_follow_up = _view("Follow up the authorization", "can_work_authorizations").Next(this.auth_decided)
    denial = _view("Work the denial", "can_work_authorizations").Next(this.auth_decided)

    match = Job(steps.run_match).Annotation(title="Find and book a slot").OnFailure(this.schedule).Next(this.is_booked)
    is_booked = If(lambda a: a.process.booked).Then(this.notify).Else(this.schedule)
    schedule = _view("Book an appointment", "can_schedule").Next(this.scheduled)
    scheduled = If(lambda a: a.process.booked).Then(this.notify).Else(this.closed)

    notify = Job(steps.run_notify).Annotation(title="Tell the patient").OnFailure(this.notify_by_phone).Next(
        this.booked_by_override)
    notify_by_phone = _view("Tell the patient by phone", "can_schedule").Next(this.booked_by_override)

    # Booked before the payer decided (override): wait for the decision; a denial goes to a person.
    booked_by_override = If(lambda a: gates.waits_for_payer(a.process)).Then(this.await_payer).Else(this.end)
    await_payer = flow.ConditionalCatch(gates.record_decision).Annotation(
        title="Wait for the payer's decision").Next(this.decided_after_booking)
    decided_after_booking = If(lambda a: a.process.auth_status == "denied").Then(
        this.denied_after_booking).Else(this.end)
    denied_after_booking = _view("Denied after booking: appeal, keep or cancel", "can_work_authorizations").Next(
        this.after_denial)
    after_denial = If(lambda a: a.process.auth_status == "appealed").Then(this.await_payer).Else(this.end)

    # Any human task past its SLA: it stays in its queue and is escalated to the leads (non-interrupting).
    sla_breached = flow.Function(sla.breached).Annotation(title="Escalate to the leads").Next(this.escalated)
    escalated = flow.End().Annotation(title="Escalated")

    end = flow.End().Annotation(title="Booked")
    closed = flow.End().Annotation(title="Closed")
