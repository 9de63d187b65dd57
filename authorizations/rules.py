"""What payer rules say for one service: is prior authorization needed, which documents are required."""

from scheduling.models import DocumentKind, ServiceType

from .models import Payer, PayerRule


def prior_auth_required(*, payer: Payer, service_type: ServiceType) -> bool | None:
    """True or False from the payer's rule; None when the rule console has no rule for this pair (a person decides)."""
    return PayerRule.objects.filter(payer=payer, service_type=service_type).values_list(
        "prior_auth_required", flat=True).first()


def required_document_kinds(*, service_type: ServiceType, payer: Payer | None) -> list[DocumentKind]:
    """The service's own requirements plus what this payer adds, each once, by name."""
    kinds = {k.pk: k for k in service_type.required_documents.all()}
    if payer is not None:
        rule = PayerRule.objects.filter(payer=payer, service_type=service_type).prefetch_related(
            "required_documents").first()
        if rule:
            kinds.update({k.pk: k for k in rule.required_documents.all()})
    return sorted(kinds.values(), key=lambda k: k.name)
