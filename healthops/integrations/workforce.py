"""The workforce system: the roster of shifts (GET /roster?from=&to=), read by staffing's roster import."""

from datetime import date

from django.conf import settings

from .client import IntegrationClient, MalformedAnswer, Result

SHIFT_KEYS = ("id", "staff_external_id", "site_code", "department_code", "start", "end")


def _shifts(body) -> list[dict]:
    shifts = body["shifts"]
    if not isinstance(shifts, list) or not all(isinstance(s, dict) for s in shifts):
        raise MalformedAnswer("'shifts' is not a list of objects")
    for n, shift in enumerate(shifts):
        missing = [k for k in SHIFT_KEYS if k not in shift]
        if missing:
            raise MalformedAnswer(f"shifts[{n}] lacks {', '.join(missing)}")
    return shifts


class WorkforceClient(IntegrationClient):
    system = "workforce"

    def __init__(self, base_url: str | None = None, **kwargs):
        super().__init__(base_url or settings.WORKFORCE_URL, **kwargs)

    def roster(self, *, start: date, end: date) -> Result:
        """Shifts starting from `start` to `end` (both included); `Result.body` is the list of shift dicts."""
        return self.request("roster", "GET", f"/roster?from={start.isoformat()}&to={end.isoformat()}",
                            subject=f"roster/{start.isoformat()}", parse=_shifts)
