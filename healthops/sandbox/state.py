"""The sandbox's own state: in memory, guarded by one lock, optionally persisted to a JSON file (never our database).

Everything the simulated outside world remembers lives in one ``SandboxState`` owned by the server: members,
roster, prior-authorization submissions and their indexes, ERP events, messages, fault specs, webhook delivery
attempts and counters. Handlers take ``state.lock`` around every read-then-write, which is what makes idempotency
and deduplication hold under concurrent requests.

With a state file, everything except fault specs and per-endpoint request counters is written there (atomically,
shortly after each change and at shutdown) and read back at start; pended decisions keep their wall-clock due time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from .faults import Fault, parse_faults

logger = logging.getLogger("healthops.sandbox")

STATE_VERSION = 1
REVIEW_ACTIONS_ALLOWED = ("A1", "A3", "A4")


class StateInputError(ValueError):
    """Loaded or posted data (members, roster) that does not have the documented shape."""


@dataclass
class SandboxConfig:
    """Start-up settings. ``from_env`` reads SANDBOX_WEBHOOK_URL, SANDBOX_FAULTS and SANDBOX_DECIDE_AFTER_SECONDS."""

    decide_after_seconds: float = 30.0
    webhook_url: str | None = None
    webhook_attempts: int = 4
    webhook_backoff_seconds: float = 0.5
    webhook_timeout_seconds: float = 5.0
    approval_days: int = 90
    faults: list[dict[str, Any]] = field(default_factory=list)
    members_path: str | None = None
    roster_path: str | None = None
    state_file: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> SandboxConfig:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if environ.get("SANDBOX_WEBHOOK_URL"):
            values["webhook_url"] = environ["SANDBOX_WEBHOOK_URL"]
        if environ.get("SANDBOX_DECIDE_AFTER_SECONDS"):
            try:
                values["decide_after_seconds"] = float(environ["SANDBOX_DECIDE_AFTER_SECONDS"])
            except ValueError as exc:
                raise ValueError("SANDBOX_DECIDE_AFTER_SECONDS must be a number of seconds.") from exc
        if environ.get("SANDBOX_FAULTS"):
            try:
                specs = json.loads(environ["SANDBOX_FAULTS"])
            except json.JSONDecodeError as exc:
                raise ValueError(f"SANDBOX_FAULTS is not valid JSON: {exc}") from exc
            values["faults"] = specs if isinstance(specs, list) else [specs]
        values.update({k: v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise TypeError(f"Unknown sandbox settings: {sorted(unknown)}")
        config = cls(**values)
        parse_faults(config.faults)  # fail loudly at start on a bad spec
        return config


# ----------------------------------------------------------------------------------------------------------------
# Input validation for members and roster (files or /_control posts)
# ----------------------------------------------------------------------------------------------------------------

def parse_members(data: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """``[{"payer": key | "*", "member_id": str, "in_force": bool, "review_action"?: "A1"|"A3"|"A4"}]``."""
    if isinstance(data, Mapping) and "members" in data:
        data = data["members"]
    if not isinstance(data, list):
        raise StateInputError("Members must be a JSON list of {payer, member_id, in_force}.")
    members: dict[tuple[str, str], dict[str, Any]] = {}
    for n, row in enumerate(data):
        if not isinstance(row, Mapping):
            raise StateInputError(f"members[{n}] must be an object.")
        payer, member_id, in_force = row.get("payer"), row.get("member_id"), row.get("in_force")
        if not isinstance(payer, str) or not payer or not isinstance(member_id, str) or not member_id:
            raise StateInputError(f"members[{n}] needs non-empty string 'payer' and 'member_id'.")
        if not isinstance(in_force, bool):
            raise StateInputError(f"members[{n}].in_force must be true or false.")
        action = row.get("review_action", "A1")
        if action not in REVIEW_ACTIONS_ALLOWED:
            raise StateInputError(f"members[{n}].review_action must be one of {list(REVIEW_ACTIONS_ALLOWED)}.")
        members[(payer, member_id)] = {"in_force": in_force, "review_action": action}
    return members


def parse_aware(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise StateInputError(f"{what} must be an ISO 8601 string with a UTC offset.")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise StateInputError(f"{what} is not an ISO 8601 date-time: {value!r}.") from exc
    if parsed.tzinfo is None:
        raise StateInputError(f"{what} must carry a UTC offset (got {value!r}).")
    return parsed


def parse_roster(data: Any) -> list[dict[str, Any]]:
    """``[{"id", "staff_external_id", "site_code", "department_code", "start", "end"}]`` or ``{"shifts": [...]}``."""
    if isinstance(data, Mapping) and "shifts" in data:
        data = data["shifts"]
    if not isinstance(data, list):
        raise StateInputError("The roster must be a JSON list of shifts (or {\"shifts\": [...]}).")
    shifts = []
    for n, row in enumerate(data):
        if not isinstance(row, Mapping):
            raise StateInputError(f"shifts[{n}] must be an object.")
        for key in ("id", "staff_external_id", "site_code", "department_code"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise StateInputError(f"shifts[{n}].{key} must be a non-empty string.")
        start, end = parse_aware(row.get("start"), f"shifts[{n}].start"), parse_aware(row.get("end"), f"shifts[{n}].end")
        if end <= start:
            raise StateInputError(f"shifts[{n}] ends before it starts.")
        shifts.append(dict(row))
    ids = [s["id"] for s in shifts]
    if len(ids) != len(set(ids)):
        raise StateInputError("Shift ids must be unique.")
    return shifts


def load_json_file(path: str | os.PathLike[str], what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise StateInputError(f"Cannot read the {what} file {path}: {exc.strerror}.") from exc
    except json.JSONDecodeError as exc:
        raise StateInputError(f"The {what} file {path} is not valid JSON: {exc}.") from exc


# ----------------------------------------------------------------------------------------------------------------
# The state object
# ----------------------------------------------------------------------------------------------------------------

class SandboxState:
    """All sandbox memory. Attributes are read and written only while holding ``lock``."""

    def __init__(self, config: SandboxConfig) -> None:
        self.lock = threading.RLock()
        self.stopping = threading.Event()
        self.generation = 0  # bumped by reset(): background work started before a reset drops its results
        self.startup = config
        self.config = SandboxConfig(**asdict(config))
        self._clear()
        self._load_startup_files()
        self.faults: list[Fault] = parse_faults(config.faults)
        if config.state_file and Path(config.state_file).exists():
            self.restore(load_json_file(config.state_file, "state"))

    # -- lifecycle -------------------------------------------------------------------------------------------
    def _clear(self) -> None:
        self.members: dict[tuple[str, str], dict[str, Any]] = {}
        self.roster: list[dict[str, Any]] = []
        self.submissions: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}            # idempotency key (or claim identifier) -> tracking id
        self.by_lookup: dict[str, list[str]] = {}   # "<payer> <value>" (claim id, tracking id, auth no.) -> tracking ids
        self.erp_events: list[dict[str, Any]] = []
        self.erp_seen: set[tuple[str, str]] = set()
        self.messages: list[dict[str, Any]] = []
        self.message_keys: dict[str, str] = {}
        self.deliveries: list[dict[str, Any]] = []
        self.sequences: Counter[str] = Counter()
        self.counts: Counter[str] = Counter()
        self.requests: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.submission_counts: Counter[str] = Counter()
        self.dirty = False

    def _load_startup_files(self) -> None:
        if self.startup.members_path:
            self.members.update(parse_members(load_json_file(self.startup.members_path, "members")))
        if self.startup.roster_path:
            self.roster = parse_roster(load_json_file(self.startup.roster_path, "roster"))

    def reset(self) -> None:
        """Back to a fresh start: everything forgotten and faults cleared; start-up files and settings re-applied."""
        with self.lock:
            self.generation += 1
            self._clear()
            self.config = SandboxConfig(**asdict(self.startup))
            self.faults = []
            self._load_startup_files()
            self.dirty = True

    # -- small helpers ----------------------------------------------------------------------------------------
    def next_id(self, sequence: str) -> int:
        with self.lock:
            self.sequences[sequence] += 1
            return self.sequences[sequence]

    def index(self, payer: str, value: str, tracking_id: str) -> None:
        with self.lock:
            bucket = self.by_lookup.setdefault(f"{payer} {value}", [])
            if tracking_id not in bucket:
                bucket.append(tracking_id)

    def lookup(self, payer: str, value: str) -> dict[str, Any] | None:
        """The latest submission to ``payer`` named by ``value`` (claim identifier, tracking id or auth number)."""
        with self.lock:
            found = self.by_lookup.get(f"{payer} {value}") or []
            return self.submissions[found[-1]] if found else None

    def stats(self) -> dict[str, Any]:
        with self.lock:
            delivered = sum(1 for d in self.deliveries if d["delivered"])
            return {
                "submissions": dict(self.submission_counts),
                "authorizations_created": self.counts["created"],
                "duplicates": self.counts["submit_duplicates"],
                "eligibility_requests": self.counts["eligibility_requests"],
                "inquiries": self.counts["inquiries"],
                "decisions_later": self.counts["decisions_later"],
                "erp_events": len(self.erp_events),
                "erp_duplicates": self.counts["erp_duplicates"],
                "messages": len(self.messages),
                "message_duplicates": self.counts["message_duplicates"],
                "roster_requests": self.counts["roster_requests"],
                "webhook": {"url": self.config.webhook_url, "attempts": len(self.deliveries), "delivered": delivered,
                            "failed_attempts": len(self.deliveries) - delivered},
                "requests": dict(self.requests),
                "faults_injected": dict(self.injected),
            }

    # -- persistence ------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "version": STATE_VERSION,
                "members": [{"payer": p, "member_id": m, **v} for (p, m), v in self.members.items()],
                "roster": self.roster, "submissions": list(self.submissions.values()), "by_key": self.by_key,
                "erp_events": self.erp_events, "messages": self.messages, "message_keys": self.message_keys,
                "deliveries": self.deliveries, "sequences": dict(self.sequences), "counts": dict(self.counts),
                "submission_counts": dict(self.submission_counts), "webhook_url": self.config.webhook_url,
            }

    def restore(self, data: Any) -> None:
        if not isinstance(data, Mapping) or data.get("version") != STATE_VERSION:
            raise StateInputError("The state file was not written by this sandbox version.")
        with self.lock:
            self.members = parse_members(data.get("members", []))
            self.roster = parse_roster(data.get("roster", []))
            self.submissions = {s["tracking_id"]: s for s in data.get("submissions", [])}
            self.by_key = dict(data.get("by_key", {}))
            for submission in self.submissions.values():
                for value in submission["lookup_values"]:
                    self.index(submission["payer"], value, submission["tracking_id"])
            self.erp_events = list(data.get("erp_events", []))
            self.erp_seen = {(e["source"], e["id"]) for e in self.erp_events}
            self.messages = list(data.get("messages", []))
            self.message_keys = dict(data.get("message_keys", {}))
            self.deliveries = list(data.get("deliveries", []))
            self.sequences = Counter(data.get("sequences", {}))
            self.counts = Counter(data.get("counts", {}))
            self.submission_counts = Counter(data.get("submission_counts", {}))
            # Start-up settings win over remembered ones; a webhook set at run time is kept when none is given.
            self.config.webhook_url = self.config.webhook_url or data.get("webhook_url")

    def save_if_dirty(self) -> None:
        """Write the state file atomically (temp file + rename) when something changed since the last save."""
        path = self.config.state_file
        with self.lock:
            if not path or not self.dirty:
                return
            payload = json.dumps(self.snapshot(), default=str)
            self.dirty = False
        tmp = Path(f"{path}.tmp-{os.getpid()}-{threading.get_ident()}")
        tmp.write_text(payload, encoding="utf-8")
        os.replace(tmp, path)
        logger.debug("sandbox state saved", extra={"bytes": len(payload)})

    def touch(self) -> None:
        """Mark a change (the ticker persists it shortly after)."""
        with self.lock:
            self.dirty = True


def epoch() -> float:
    """Wall-clock seconds (pended decisions are due at a wall-clock time so they survive a restart)."""
    return time.time()
