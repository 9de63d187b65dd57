"""Pre-aggregated facts for the manager dashboards, rebuilt from the event log (never written by hand: see facts.py)."""

from django.db import models


class ReferralFacts(models.Model):
    """One row per referral: its journey reduced to the numbers the KPIs need. Derived, disposable, rebuildable."""

    referral = models.OneToOneField("referrals.Referral", primary_key=True, on_delete=models.CASCADE,
                                    related_name="facts", db_constraint=False)
    site = models.ForeignKey("healthops.Site", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    department = models.ForeignKey("healthops.Department", null=True, on_delete=models.DO_NOTHING, related_name="+",
                                   db_constraint=False)
    service_type = models.ForeignKey("scheduling.ServiceType", null=True, on_delete=models.DO_NOTHING,
                                     related_name="+", db_constraint=False)
    payer = models.ForeignKey("authorizations.Payer", null=True, on_delete=models.DO_NOTHING, related_name="+",
                              db_constraint=False)
    priority = models.CharField(max_length=8)
    stage = models.CharField(max_length=20, help_text="Stage after the last stage event.")
    received_at = models.DateTimeField()
    booked_at = models.DateTimeField(null=True, help_text="First referral.booked or appointment linked.")
    cycle_seconds = models.BigIntegerField(null=True, help_text="received_at to booked_at.")
    worked_seconds = models.BigIntegerField(null=True, help_text="Of the cycle: time with a human task open.")
    waiting_seconds = models.BigIntegerField(null=True, help_text="Of the cycle: time with no human task open.")
    tasks_created = models.PositiveIntegerField(default=0, help_text="Exceptions: human tasks the case needed.")
    manual_touches = models.PositiveIntegerField(default=0)
    escalations = models.PositiveIntegerField(default=0)
    last_sequence = models.BigIntegerField(default=0, help_text="Last event folded into this row.")

    class Meta:
        indexes = [models.Index(fields=["booked_at", "site"]), models.Index(fields=["received_at", "site"])]

    def __str__(self) -> str:
        return f"Facts of referral {self.referral_id}"

    @property
    def straight_through(self) -> bool:
        return self.booked_at is not None and self.tasks_created == 0


class StageVisit(models.Model):
    """One stay of one referral in one stage: when it entered, when it left and for which stage (empty: still there)."""

    referral = models.ForeignKey("referrals.Referral", on_delete=models.CASCADE, related_name="+",
                                 db_constraint=False)
    site = models.ForeignKey("healthops.Site", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    stage = models.CharField(max_length=20)
    next_stage = models.CharField(max_length=20, blank=True)
    entered_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True)
    seconds = models.BigIntegerField(null=True)

    class Meta:
        indexes = [models.Index(fields=["left_at", "stage", "site"])]

    def __str__(self) -> str:
        return f"R-{self.referral_id} in {self.stage}"


class TaskFact(models.Model):
    """One human task (an exception) of a referral, from its task.* events: its queue, when it opened and closed."""

    referral = models.ForeignKey("referrals.Referral", on_delete=models.CASCADE, related_name="+",
                                 db_constraint=False)
    site = models.ForeignKey("healthops.Site", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False)
    task_id = models.BigIntegerField(help_text="The viewflow task id from the events' data.")
    task_type = models.CharField(max_length=40)
    reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField(null=True)
    completed_at = models.DateTimeField(null=True)
    on_hold = models.BooleanField(default=False)
    manual = models.BooleanField(null=True, help_text="Completed by a person (not automatically).")

    class Meta:
        indexes = [models.Index(fields=["created_at", "task_type"]), models.Index(fields=["completed_at", "task_type"])]

    def __str__(self) -> str:
        return f"{self.task_type} task {self.task_id} of R-{self.referral_id}"


class AccessSnapshot(models.Model):
    """Third-next-available per service and site, computed by the refresh job (a slot search is too slow per page)."""

    service_type = models.ForeignKey("scheduling.ServiceType", on_delete=models.CASCADE, related_name="+")
    site = models.ForeignKey("healthops.Site", on_delete=models.CASCADE, related_name="+")
    days = models.FloatField(null=True, help_text="Empty: fewer than three free slots in the horizon.")
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["service_type", "site"], name="access_snapshot_unique")]

    def __str__(self) -> str:
        return f"TNA {self.service_type_id}@{self.site_id}"


class FactsCursor(models.Model):
    """How far the facts have read the event log (Event.sequence). One row."""

    name = models.CharField(max_length=40, primary_key=True)
    sequence = models.BigIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.sequence}"
