"""What payer rules say for one service: is prior authorization needed, which documents are required."""

from django.db.models import Q

from scheduling.models import DocumentKind, ServiceType

from .models import Payer, PayerRule


def prior_auth_required(*, payer: Payer, service_type: ServiceType) -> bool | None:
    """True or False from the payer's rule; None when the rule console has no rule for this pair (a person decides)."""
    return PayerRule.objects.filter(payer=payer, service_type=service_type).values_list(
        "prior_auth_required", flat=True).first()


def required_document_kinds(*, service_type: ServiceType, payer: Payer | None) -> list[DocumentKind]:
    """The service's own requirements plus what this payer adds, each once, by name (one query)."""
    wanted = Q(pk__in=ServiceType.required_documents.through.objects.filter(servicetype=service_type)
               .values("documentkind_id"))
    if payer is not None:
        wanted |= Q(pk__in=PayerRule.required_documents.through.objects.filter(
            payerrule__payer=payer, payerrule__service_type=service_type).values("documentkind_id"))
    return list(DocumentKind.objects.filter(wanted).order_by("name", "pk"))
