"""What the ReferralFlow waits on after a booking made under the "book before the payer decides" override: the
payer's decision, caught by viewflow's conditional catch (evaluated by the flow dispatcher every minute, and at once
when a decision event arrives)."""

from authorizations.models import Authorization

from .models import ReferralProcess

A = Authorization.Status
DECIDED = {A.APPROVED, A.PARTIAL, A.DENIED, A.CANCELLED}


def _authorization(process: ReferralProcess) -> Authorization | None:
    return process.referral.authorizations.exclude(status=A.CANCELLED).order_by("-pk").first()


def waits_for_payer(process: ReferralProcess) -> bool:
    """Booked by override while the payer had not decided (or an appeal is out)."""
    return process.auth_overridden and not payer_decided(process)


def payer_decided(process: ReferralProcess) -> bool:
    """The payer has answered, and no appeal is waiting for its answer."""
    auth = _authorization(process)
    if auth is None:
        return True  # withdrawn: nothing to wait for
    return auth.status in DECIDED and not auth.appeals.filter(outcome="pending").exists()


def record_decision(activation) -> bool:
    """The catch's condition: once decided, the routing fact is set for the switch that follows."""
    process = activation.process
    if not payer_decided(process):
        return False
    auth = _authorization(process)
    process.auth_status = auth.status if auth else "cancelled"
    process.save(update_fields=["auth_status"])
    return True
