"""Patient messaging (SMS and e-mail gateway)."""

from django.conf import settings

from .client import IntegrationClient, Result


class MessagingClient(IntegrationClient):
    system = "messaging"

    def __init__(self, base_url: str | None = None, **kwargs):
        super().__init__(base_url or settings.MESSAGING_URL, **kwargs)

    def send(self, *, channel: str, to: str, body: str, idempotency_key: str, subject: str = "") -> Result:
        """The idempotency key makes a resend (job delivered twice) one message for the patient."""
        return self.request("send-message", "POST", "/messages", idempotency_key=idempotency_key, subject=subject,
                            body={"channel": channel, "to": to, "body": body, "idempotency_key": idempotency_key})
