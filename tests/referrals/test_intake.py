"""Web intake: a referral recorded by a coordinator enters the ReferralFlow."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from healthops.models import Organization
from referrals.models import Referral, ReferralProcess, WorkItem

from .. import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def inline_jobs(monkeypatch):
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


def form(north, service, practice, **extra):
    return {"service_type": service.pk, "site": north.pk, "priority": "urgent", "reason": "Chest pain on exertion",
            "referring_organization": practice.pk, "source_channel": "fax", **extra}


def test_unknown_patient_lands_in_patient_match(client, coordinator, north, django_capture_on_commit_callbacks,
                                                settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(coordinator)
    practice = factories.organization(Organization.Kind.PRACTICE)
    service = factories.service_type()
    letter = SimpleUploadedFile("letter.pdf", b"%PDF-1.4 referral letter", content_type="application/pdf")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/referrals/new/", form(north, service, practice, document=letter,
                                                       document_kind=factories.document_kind().pk))
    referral = Referral.objects.get()
    assert response.status_code == 302 and response["Location"] == referral.get_absolute_url()
    assert referral.documents.count() == 1
    assert ReferralProcess.objects.filter(referral=referral).exists()
    assert list(WorkItem.objects.filter(referral=referral).values_list("task_type", flat=True)) == ["patient_match"]


def test_bad_input_is_a_400_and_records_nothing(client, coordinator, north, south):
    client.force_login(coordinator)
    practice = factories.organization(Organization.Kind.PRACTICE)
    service = factories.service_type()
    for bad in ({"mrn": "NOPE-1"}, {"site": south.pk}, {"priority": "whenever"}, {"reason": ""}):
        response = client.post("/referrals/new/", {**form(north, service, practice), **bad})
        assert response.status_code == 400
    assert not Referral.objects.exists()


def test_intake_needs_the_permission(client, scheduler):
    client.force_login(scheduler)
    assert client.get("/referrals/new/").status_code == 403
