"""An exclusion constraint that PostgreSQL enforces and SQLite skips (it has no EXCLUDE), checked in Python there."""

from django.contrib.postgres.constraints import ExclusionConstraint
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import DateTimeField, Func
from django.utils.module_loading import import_string


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeField()


class PortableExclusionConstraint(ExclusionConstraint):
    """On PostgreSQL a real EXCLUDE constraint. Elsewhere no DDL at all, and `validate()` calls
    `fallback_validator(constraint, model, instance, using)`: best effort, not safe under concurrency."""

    def __init__(self, *args, fallback_validator: str | None = None, **kwargs):
        self.fallback_validator = fallback_validator
        super().__init__(*args, **kwargs)

    @staticmethod
    def _is_postgres(schema_editor_or_alias) -> bool:
        if isinstance(schema_editor_or_alias, str):
            return connections[schema_editor_or_alias].vendor == "postgresql"
        return schema_editor_or_alias.connection.vendor == "postgresql"

    def constraint_sql(self, model, schema_editor):
        return super().constraint_sql(model, schema_editor) if self._is_postgres(schema_editor) else None

    def create_sql(self, model, schema_editor):
        return super().create_sql(model, schema_editor) if self._is_postgres(schema_editor) else None

    def remove_sql(self, model, schema_editor):
        return super().remove_sql(model, schema_editor) if self._is_postgres(schema_editor) else None

    def validate(self, model, instance, exclude=None, using=DEFAULT_DB_ALIAS):
        if self._is_postgres(using):
            return super().validate(model, instance, exclude=exclude, using=using)
        if self.fallback_validator:
            import_string(self.fallback_validator)(self, model, instance, using)

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        if self.fallback_validator:
            kwargs["fallback_validator"] = self.fallback_validator
        return path, args, kwargs

    def __eq__(self, other):
        return super().__eq__(other) and self.fallback_validator == getattr(other, "fallback_validator", None)
