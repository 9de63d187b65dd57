"""Writes to the shared kernel: patients."""

from django.db import transaction

from .events import emit
from .models import Patient

PATIENT_FIELDS = {"given_name", "family_name", "birth_date", "sex", "phone", "email", "language", "address_line",
                  "city", "state", "postal_code", "home_site"}


@transaction.atomic
def patient_create(*, mrn: str, given_name: str, family_name: str, birth_date, actor, time=None, **fields) -> Patient:
    unknown = set(fields) - PATIENT_FIELDS
    if unknown:
        raise TypeError(f"patient_create got unknown fields: {sorted(unknown)}")
    patient = Patient(mrn=mrn, given_name=given_name, family_name=family_name, birth_date=birth_date, **fields)
    patient.full_clean()
    patient.save()
    emit("patient.created", subject=f"patient/{patient.pk}", source="healthops", actor=actor, time=time,
         data={"patient_id": patient.pk})
    return patient


@transaction.atomic
def patient_update(*, patient: Patient, actor, **fields) -> Patient:
    unknown = set(fields) - PATIENT_FIELDS
    if unknown:
        raise TypeError(f"patient_update got unknown fields: {sorted(unknown)}")
    changed = sorted(name for name, value in fields.items() if getattr(patient, name) != value)
    if not changed:
        return patient
    for name in changed:
        setattr(patient, name, fields[name])
    patient.full_clean()
    patient.save()
    # Field names only: the event log carries no demographics.
    emit("patient.updated", subject=f"patient/{patient.pk}", source="healthops", actor=actor,
         data={"patient_id": patient.pk, "fields": changed})
    return patient
