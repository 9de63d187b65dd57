"""Users see only their sites' patients, referrals and appointments unless their role is network-wide."""

from datetime import UTC, datetime

import pytest

from healthops import permissions
from healthops.audit import system_user
from referrals.selectors import patients_visible_to, referral_list, referrals_visible_to
from scheduling.selectors import appointments_visible_to
from scheduling.services import appointment_book

from . import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def network(north, south):
    north_patient, south_patient = factories.patient(north), factories.patient(south)
    service = factories.service_type()
    data = {
        "north_referral": factories.referral(north, north_patient, service),
        "south_referral": factories.referral(south, south_patient, service),
        "north_patient": north_patient, "south_patient": south_patient,
    }
    for at, patient in ((north, north_patient), (south, south_patient)):
        data[f"{at.code}_appointment"] = appointment_book(
            patient=patient, service_type=service, site=at, start=datetime(2030, 1, 7, 15, tzinfo=UTC),
            resources=[factories.room(at).resource], actor=system_user())
    return data


def test_site_user_sees_only_their_site(coordinator, network):
    assert list(referrals_visible_to(coordinator)) == [network["north_referral"]]
    assert list(appointments_visible_to(coordinator)) == [network["north_appointment"]]
    assert list(patients_visible_to(coordinator)) == [network["north_patient"]]


def test_user_of_another_site_sees_the_other_half(outsider, network):
    assert list(referrals_visible_to(outsider)) == [network["south_referral"]]
    assert network["north_patient"] not in patients_visible_to(outsider)
    assert not referral_list(user=outsider, filters={"q": network["north_patient"].family_name}).exists()


def test_patient_with_a_referral_at_my_site_is_visible_even_if_homed_elsewhere(coordinator, north, south, network):
    travelling = factories.patient(south)
    factories.referral(north, travelling)
    assert travelling in patients_visible_to(coordinator)


@pytest.mark.parametrize("role", [permissions.MANAGER, permissions.ADMIN])
def test_network_wide_roles_see_everything(role, network):
    user = factories.user(f"nw-{role}", role)
    assert referrals_visible_to(user).count() == 2
    assert appointments_visible_to(user).count() == 2


def test_network_wide_flag_on_profile(south, network):
    central = factories.user("central", permissions.SCHEDULER, sites=[south], network_wide=True)
    assert referrals_visible_to(central).count() == 2


def test_user_without_profile_sees_nothing(django_user_model, network):
    stranger = django_user_model.objects.create_user("nobody", password="x-very-long-pw")
    assert not referrals_visible_to(stranger).exists()


def test_referral_page_of_another_site_is_not_found(client, outsider, network):
    client.force_login(outsider)
    assert client.get(network["north_referral"].get_absolute_url()).status_code == 404
    assert client.get(network["south_referral"].get_absolute_url()).status_code == 200
