"""A small clinic with one MRI service: two radiology techs on shifts, two scanners' rooms, templates in local time."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from healthops.models import Resource
from scheduling.models import Equipment, EquipmentKind, RoomKind, WeeklyAvailability
from staffing.models import Shift, StaffMember

from .. import factories

CHI = ZoneInfo("America/Chicago")


def local(y, m, d, hh, mm=0, tz=CHI):
    return datetime(y, m, d, hh, mm, tzinfo=tz).astimezone(UTC)


def open_weekdays(resource, start=time(8), end=time(17)):
    for weekday in range(5):
        WeeklyAvailability.objects.create(resource=resource, weekday=weekday, start_time=start, end_time=end)


def shift(member, site, day_start, day_end):
    return Shift.objects.create(staff=member, site=site, start=day_start, end=day_end)


@pytest.fixture
def clinic(db):
    site = factories.site(name="Imaging North", code="img-north", time_zone="America/Chicago")
    mri_room = RoomKind.objects.create(code="mri-suite", name="MRI suite")
    scanner_kind = EquipmentKind.objects.create(code="mri", name="MRI scanner")
    service = factories.service_type(code="mri-brain", name="MRI brain", duration_minutes=60,
                                     staff_role=StaffMember.Role.RADIOLOGY_TECH, room_kind=mri_room, min_notice_hours=0)
    service.equipment_kinds.add(scanner_kind)
    room = factories.room(site, kind=mri_room, name="MRI 1")
    scanner_resource = Resource.objects.create(kind=Resource.Kind.EQUIPMENT, name="Scanner A", site=site)
    scanner = Equipment.objects.create(resource=scanner_resource, site=site, room=room, name="Scanner A", kind=scanner_kind)
    open_weekdays(room.resource)
    open_weekdays(scanner.resource)
    tech = factories.staff(site, role=StaffMember.Role.RADIOLOGY_TECH)
    return {"site": site, "service": service, "room": room, "scanner": scanner, "tech": tech}


@pytest.fixture
def monday():
    """Monday 2030-03-04, a week before the US daylight-saving change (2030-03-10)."""
    return datetime(2030, 3, 4, tzinfo=CHI)


@pytest.fixture
def now(monday):
    return (monday - timedelta(days=3)).astimezone(UTC)
