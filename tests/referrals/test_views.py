"""The referral pages over HTTP: list filters and fragments, scoping, the referral page, documents and audit."""

from datetime import UTC, datetime, timedelta

import pytest
from auditlog.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from authorizations.services import authorization_create, coverage_create, eligibility_record
from healthops.audit import system_user
from referrals.models import Referral, ReferralDocument
from referrals.services import referral_document_add, referral_link_appointment, referral_set_stage
from scheduling.services import appointment_book

from .. import factories

pytestmark = pytest.mark.django_db
LIST = reverse("referrals:list")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def logged_in(client, coordinator):
    client.force_login(coordinator)
    return client


@pytest.fixture
def network(north, south):
    service = factories.service_type(name="Knee MRI")
    return {
        "north_new": factories.referral(north, factories.patient(north, family_name="Alvarez"), service),
        "north_sched": factories.referral(north, factories.patient(north, family_name="Brennan"), service,
                                          priority="urgent"),
        "south": factories.referral(south, factories.patient(south, family_name="Southby"), service),
    }


def _stage(referral, stage, reason=""):
    return referral_set_stage(referral=referral, stage=stage, actor=system_user(), reason=reason)


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/referrals/")


def test_list_shows_only_the_users_sites(logged_in, network):
    response = logged_in.get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "Alvarez" in body and "Brennan" in body
    assert "Southby" not in body
    assert f"R-{network['south'].pk}<" not in body


def test_list_filters_by_stage_priority_and_search(logged_in, network):
    _stage(network["north_sched"], "scheduling", "No slot within the authorization window")
    body = logged_in.get(LIST, {"stage": "scheduling"}).content.decode()
    assert "Brennan" in body and "Alvarez" not in body
    assert "No slot within the authorization window" in body
    body = logged_in.get(LIST, {"priority": "urgent"}).content.decode()
    assert "Brennan" in body and "Alvarez" not in body
    body = logged_in.get(LIST, {"q": "alvar"}).content.decode()
    assert "Alvarez" in body and "Brennan" not in body
    body = logged_in.get(LIST, {"q": f"R-{network['north_sched'].pk}"}).content.decode()
    assert "Brennan" in body and "Alvarez" not in body
    # Someone else's referral is not found by its id either.
    body = logged_in.get(LIST, {"q": f"R-{network['south'].pk}"}).content.decode()
    assert "Southby" not in body and "No referrals match these filters" in body


def test_stage_chips_count_each_stage(logged_in, network):
    _stage(network["north_sched"], "scheduling")
    response = logged_in.get(LIST)
    counts = {s["value"]: s["count"] for s in response.context["stage_counts"]}
    assert counts["scheduling"] == 1 and counts["intake"] == 1 and counts["booked"] == 0
    assert sum(counts.values()) == 2  # the other site's referral is not counted
    assert 'data-stage="scheduling"' in response.content.decode()


def test_htmx_request_gets_only_the_table(logged_in, network):
    response = logged_in.get(LIST, {"stage": "intake"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="referral-table">')
    assert "<html" not in body and 'class="filters"' not in body
    assert "HX-Request" in response["Vary"]
    # The stage select is refreshed out of band, so the form keeps up with a clicked stage chip.
    assert 'id="field-stage" hx-swap-oob="true"' in body


def test_full_page_has_htmx_from_static_and_csrf_header(logged_in, network):
    body = logged_in.get(LIST).content.decode()
    assert '<script src="/static/django_htmx/htmx-2.min.js"' in body
    assert "hx-headers='{\"X-CSRFToken\": \"" in body
    assert "https://" not in body  # nothing from a CDN
    assert 'action="/accounts/logout/"' in body


@pytest.mark.parametrize("params", [
    {"stage": "nonsense"},
    {"priority": "whenever"},
    {"site": "not-a-number"},
    {"order": "patient__mrn"},  # only the offered orderings, never an arbitrary field
    {"payer": "999999"},
])
def test_bad_filter_value_is_a_400_with_a_message(logged_in, network, params):
    response = logged_in.get(LIST, params)
    assert response.status_code == 400
    assert "Some filters could not be used" in response.content.decode()
    # The fragment answers the same way (htmx is configured to show 400 fragments).
    assert logged_in.get(LIST, params, headers={"HX-Request": "true"}).status_code == 400


def test_site_filter_offers_only_the_users_sites(logged_in, network, south):
    response = logged_in.get(LIST, {"site": south.pk})
    assert response.status_code == 400
    assert "South Clinic" not in response.content.decode()


def test_bad_page_number_falls_back_to_a_page(logged_in, network):
    assert logged_in.get(LIST, {"page": "abc"}).status_code == 200
    assert logged_in.get(LIST, {"page": "999"}).status_code == 200


def test_list_query_count_does_not_grow_with_rows(logged_in, north, django_assert_max_num_queries):
    service = factories.service_type()
    payer = factories.payer()
    for _ in range(3):
        patient = factories.patient(north)
        coverage = coverage_create(patient=patient, payer=payer, member_id=f"M-{patient.pk}",
                                   period_start=datetime(2024, 1, 1).date(), actor=system_user())
        factories.referral(north, patient, service, coverage=coverage)
    with CaptureQueriesContext(connection) as few:
        assert logged_in.get(LIST).status_code == 200
    for _ in range(30):
        patient = factories.patient(north)
        coverage = coverage_create(patient=patient, payer=payer, member_id=f"M-{patient.pk}",
                                   period_start=datetime(2024, 1, 1).date(), actor=system_user())
        factories.referral(north, patient, service, coverage=coverage)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = logged_in.get(LIST)
    assert response.content.decode().count('href="/referrals/') >= 33


def test_pagination_links_keep_the_filters(logged_in, north):
    service = factories.service_type()
    for _ in range(55):
        factories.referral(north, None, service, priority="urgent")
    body = logged_in.get(LIST, {"priority": "urgent"}).content.decode()
    assert "Showing 1–50 of 55 referrals" in body
    assert 'href="?priority=urgent&amp;page=2"' in body


# The referral page


@pytest.fixture
def full_referral(north, coordinator):
    """A referral with coverage, eligibility, an authorization, an appointment and a document."""
    north.time_zone = "America/New_York"
    north.save()
    kind = factories.document_kind("referral-letter")
    service = factories.service_type(name="Cardiology consult")
    service.required_documents.add(kind, factories.document_kind("imaging-report"))
    patient = factories.patient(north, family_name="Okafor", given_name="Ada", phone="555-0100")
    payer = factories.payer()
    type(payer).objects.filter(pk=payer.pk).update(name="Prairie Health")
    payer.refresh_from_db()
    actor = system_user()
    coverage = coverage_create(patient=patient, payer=payer, member_id="TEST-ACTIVE-1",
                               period_start=datetime(2024, 1, 1).date(), actor=actor)
    eligibility_record(coverage=coverage, outcome="in-force", source="payer-api", actor=actor)
    referral = factories.referral(north, patient, service, coverage=coverage, external_identifier="EXT-77")
    from referrals.services import referral_link_authorization
    referral_link_authorization(referral=referral, authorization=authorization_create(
        coverage=coverage, service_type=service, actor=actor), actor=actor)
    appointment = appointment_book(patient=patient, service_type=service, site=north,
                                   start=datetime(2030, 1, 7, 15, 0, tzinfo=UTC),
                                   resources=[factories.room(north, name="Exam 4").resource], actor=actor)
    referral_link_appointment(referral=referral, appointment=appointment, actor=actor)
    _stage(referral, "booked", "Booked automatically")
    referral_document_add(referral=referral, kind=kind, file=SimpleUploadedFile("letter.pdf", b"%PDF-1.4 letter"),
                          original_name="letter.pdf", actor=actor)
    return referral


def test_referral_page_shows_the_case(logged_in, full_referral):
    response = logged_in.get(full_referral.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    for text in ("Okafor", "TEST-ACTIVE-1", "Prairie Health", "Coverage in force", "Cardiology consult", "EXT-77",
                 "Referral Letter", "Imaging Report", "(missing)", "letter.pdf", "Exam 4",
                 "referral.received", "referral.booked", "authorization.created", "eligibility.checked",
                 "Booked automatically", "HealthOps automation", "Audit trail"):
        assert text in body, text
    # 15:00 UTC on 7 Jan 2030 is 10:00 in New York, the site's time zone.
    assert "10:00–10:30 EST" in body


def test_referral_page_records_an_access_audit_entry(logged_in, full_referral, coordinator):
    logged_in.get(full_referral.get_absolute_url())
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, object_pk=str(full_referral.pk),
                                    content_type__model="referral").get()
    assert entry.actor == coordinator
    # ... and the audit trail on the next visit shows it.
    body = logged_in.get(full_referral.get_absolute_url()).content.decode()
    assert "access" in body


def test_referral_page_of_another_site_is_404(client, outsider, full_referral):
    client.force_login(outsider)
    assert client.get(full_referral.get_absolute_url()).status_code == 404
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_referral_page_query_count_is_bounded(logged_in, full_referral, django_assert_max_num_queries):
    with django_assert_max_num_queries(30):
        assert logged_in.get(full_referral.get_absolute_url()).status_code == 200


def test_unmatched_referral_page_renders(logged_in, north):
    referral = factories.referral(north, patient_=None, service=None)
    Referral.objects.filter(pk=referral.pk).update(patient=None, service_type=None, requested_code="XYZ-1")
    body = logged_in.get(referral.get_absolute_url()).content.decode()
    assert "No patient matched yet" in body and "XYZ-1" in body


# Documents


def test_upload_a_document(logged_in, full_referral, media):
    kind = factories.document_kind("imaging-report")
    response = logged_in.post(reverse("referrals:document-upload", args=[full_referral.pk]),
                              {"kind": kind.pk, "file": SimpleUploadedFile("mri.pdf", b"%PDF-1.4 scan")})
    assert response.status_code == 302 and response["Location"] == full_referral.get_absolute_url()
    document = ReferralDocument.objects.get(referral=full_referral, kind=kind)
    assert document.original_name == "mri.pdf" and document.content_type == "application/pdf"
    assert (media / document.file.name).read_bytes() == b"%PDF-1.4 scan"
    body = logged_in.get(full_referral.get_absolute_url()).content.decode()
    assert "mri.pdf" in body and "(missing)" not in body


def test_upload_of_a_forbidden_file_type_is_refused(logged_in, full_referral, media):
    kind = factories.document_kind("imaging-report")
    before = sorted(p.name for p in media.rglob("*"))
    response = logged_in.post(reverse("referrals:document-upload", args=[full_referral.pk]),
                              {"kind": kind.pk, "file": SimpleUploadedFile("tool.exe", b"MZ\x90\x00")})
    assert response.status_code == 400
    assert "Documents must be PDF, PNG, JPEG, TIFF or plain text." in response.content.decode()
    assert not ReferralDocument.objects.filter(kind=kind).exists()
    assert sorted(p.name for p in media.rglob("*")) == before


def test_upload_without_a_file_is_a_400(logged_in, full_referral):
    response = logged_in.post(reverse("referrals:document-upload", args=[full_referral.pk]), {"kind": ""})
    assert response.status_code == 400


def test_upload_needs_the_permission(client, scheduler, full_referral):
    client.force_login(scheduler)  # schedulers may view referrals but not add documents
    url = reverse("referrals:document-upload", args=[full_referral.pk])
    response = client.post(url, {"kind": factories.document_kind().pk, "file": SimpleUploadedFile("a.pdf", b"%PDF")})
    assert response.status_code == 403
    assert "You can't open this page" in response.content.decode()


def test_upload_to_another_sites_referral_is_404(client, outsider, full_referral):
    client.force_login(outsider)
    url = reverse("referrals:document-upload", args=[full_referral.pk])
    response = client.post(url, {"kind": factories.document_kind().pk, "file": SimpleUploadedFile("a.pdf", b"%PDF")})
    assert response.status_code == 404


def test_download_streams_the_file_and_records_access(logged_in, full_referral, coordinator):
    document = full_referral.documents.get()
    response = logged_in.get(reverse("referrals:document-download", args=[full_referral.pk, document.pk]))
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"".join(response.streaming_content) == b"%PDF-1.4 letter"
    entry = LogEntry.objects.get(action=LogEntry.Action.ACCESS, content_type__model="referraldocument")
    assert entry.object_pk == str(document.pk) and entry.actor == coordinator


def test_download_from_another_site_is_404(client, outsider, full_referral):
    client.force_login(outsider)
    document = full_referral.documents.get()
    assert client.get(reverse("referrals:document-download", args=[full_referral.pk, document.pk])).status_code == 404
    assert not LogEntry.objects.filter(action=LogEntry.Action.ACCESS).exists()


def test_download_needs_the_right_referral_in_the_url(logged_in, full_referral, north):
    other = factories.referral(north)
    document = full_referral.documents.get()
    assert logged_in.get(reverse("referrals:document-download", args=[other.pk, document.pk])).status_code == 404


# The patient page


def test_patient_page(logged_in, full_referral, coordinator):
    patient = full_referral.patient
    response = logged_in.get(patient.get_absolute_url())
    assert response.status_code == 200
    body = response.content.decode()
    assert patient.mrn in body and "Prairie Health" in body and f"R-{full_referral.pk}" in body
    assert "Exam 4" in body and "10:00–10:30 EST" in body
    assert LogEntry.objects.filter(action=LogEntry.Action.ACCESS, content_type__model="patient",
                                   object_pk=str(patient.pk), actor=coordinator).exists()


def test_patient_page_of_another_site_is_404(client, outsider, full_referral):
    client.force_login(outsider)
    assert client.get(full_referral.patient.get_absolute_url()).status_code == 404


def test_received_shows_days_ago(logged_in, north):
    factories.referral(north, received_at=datetime.now(UTC) - timedelta(days=3))
    assert "3 days ago" in logged_in.get(LIST).content.decode()
