"""The one way to overrule a rule: a reason code, a justification, an audit entry and an `override.recorded` event."""

from django.db import transaction

from .errors import DomainError
from .events import emit
from .models import Override

MIN_JUSTIFICATION = 10


@transaction.atomic
def override_record(*, rule: str, subject: str, reason_code: str, justification: str, actor, data=None) -> Override:
    if reason_code not in Override.ReasonCode.values:
        raise DomainError(f"Unknown override reason {reason_code!r}; choose one of: {', '.join(Override.ReasonCode.values)}.")
    justification = (justification or "").strip()
    if len(justification) < MIN_JUSTIFICATION:
        raise DomainError(f"An override needs a justification of at least {MIN_JUSTIFICATION} characters.")
    if not getattr(actor, "pk", None):
        raise DomainError("An override must be made by a known user.")
    override = Override.objects.create(
        rule=rule, subject=subject, reason_code=reason_code, justification=justification, actor=actor
    )
    emit(
        "override.recorded",
        subject=subject,
        source="healthops",
        actor=actor,
        data={"override_id": override.pk, "rule": rule, "reason_code": reason_code, **(data or {})},
    )
    return override
