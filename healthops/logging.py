"""Structured (JSON) log lines, with a last-line-of-defence filter that strips patient identifiers."""

import json
import logging
import re
from datetime import UTC, datetime

# Log calls must not carry PHI in the first place (log ids, never names); this filter catches slips:
# e-mail addresses, phone numbers, dates (birth dates), MRNs and payer member ids.
_PATTERNS = [
    # Query strings of logged requests may carry search terms (names, MRNs): keep the path only.
    (re.compile(r"((?:GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) /\S*?)\?\S*"), r"\1?[query]"),
    (re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+"), "[email]"),
    (re.compile(r"\b(?:MRN|mrn)[-:\s]*\w+"), "[mrn]"),
    (re.compile(r"\b(?:TEST-(?:ACTIVE|INACTIVE|PEND|DENY)|MBR)-[\w-]+", re.IGNORECASE), "[member-id]"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}\b(?!T\d)"), "[date]"),
    (re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b"), "[date]"),
    (re.compile(r"\+?\b\d{3}[-.\s]\d{3}[-.\s]\d{4}\b"), "[phone]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactIdentifiersFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg = redact(message)
        record.args = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus any `extra={...}` fields that are ids or codes."""

    _standard = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                payload[key] = value if isinstance(value, int | float | bool | type(None)) else redact(str(value))
        if record.exc_info:
            payload["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(payload, default=str)
