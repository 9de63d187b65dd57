"""The ERP: takes our events as CloudEvents (structured JSON) and dedupes them by id."""

from django.conf import settings

from .client import IntegrationClient, Result


class ErpClient(IntegrationClient):
    system = "erp"

    def __init__(self, base_url: str | None = None, **kwargs):
        super().__init__(base_url or settings.ERP_URL, **kwargs)

    def send_event(self, envelope: dict) -> Result:
        return self.request("send-event", "POST", "/events", body=envelope, idempotency_key=envelope["id"],
                            subject=envelope.get("subject", ""), content_type="application/cloudevents+json")
