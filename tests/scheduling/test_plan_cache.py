"""Slot search keeps its site plans per process under the network token that database triggers change with every
write to what a plan reads, bulk updates and m2m changes included."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from healthops.models import Site
from scheduling.models import Equipment, EquipmentKind, Room
from scheduling.slots import site_plans
from staffing.models import StaffMember

pytestmark = pytest.mark.django_db


def staff_of(service):
    return sorted(rid for plan in site_plans(service, None) for rid in plan.staff)


def test_a_second_search_reads_one_row_for_its_plan(clinic):
    first = site_plans(clinic["service"], None)
    with CaptureQueriesContext(connection) as queries:
        again = site_plans(clinic["service"], None)
    assert len(queries) == 1 and "networkversion" in queries[0]["sql"]
    assert [(p.site.pk, list(p.staff), p.rooms, p.equipment) for p in again] == \
        [(p.site.pk, list(p.staff), p.rooms, p.equipment) for p in first]


def test_every_kind_of_write_to_the_network_is_seen_by_the_next_search(clinic):
    service, tech, site = clinic["service"], clinic["tech"], clinic["site"]
    assert staff_of(service) == [tech.resource_id]

    StaffMember.objects.filter(pk=tech.pk).update(active=False)  # a bulk update: no signals
    assert staff_of(service) == []
    StaffMember.objects.filter(pk=tech.pk).update(active=True)
    assert staff_of(service) == [tech.resource_id]

    tech.sites.remove(site)
    assert staff_of(service) == []
    tech.sites.add(site)
    assert staff_of(service) == [tech.resource_id]

    Room.objects.filter(pk=clinic["room"].pk).update(active=False)
    assert site_plans(service, None) == []
    Room.objects.filter(pk=clinic["room"].pk).update(active=True)

    Equipment.objects.filter(pk=clinic["scanner"].pk).update(active=False)
    assert site_plans(service, None) == []
    Equipment.objects.filter(pk=clinic["scanner"].pk).update(active=True)

    contrast = EquipmentKind.objects.create(code="injector", name="Contrast injector")
    service.equipment_kinds.add(contrast)
    assert site_plans(service, None) == []
    service.equipment_kinds.remove(contrast)

    Site.objects.filter(pk=site.pk).update(active=False)
    assert site_plans(service, None) == []
    Site.objects.filter(pk=site.pk).update(active=True)
    assert staff_of(service) == [tech.resource_id]


def test_a_plan_read_inside_a_rolled_back_change_is_not_kept(clinic):
    service, tech = clinic["service"], clinic["tech"]
    assert staff_of(service) == [tech.resource_id]
    with pytest.raises(RuntimeError), transaction.atomic():
        StaffMember.objects.filter(pk=tech.pk).update(active=False)
        assert staff_of(service) == []
        raise RuntimeError("the change is undone")
    assert staff_of(service) == [tech.resource_id]
