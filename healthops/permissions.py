"""Roles (groups) and site scoping: which sites' patients, referrals and appointments a user may see."""

from django.contrib.auth.models import Group, Permission

COORDINATOR = "coordinator"
SCHEDULER = "scheduler"
AUTHSPECIALIST = "authspecialist"
MANAGER = "manager"
ADMIN = "admin"
ROLES = [COORDINATOR, SCHEDULER, AUTHSPECIALIST, MANAGER, ADMIN]
NETWORK_WIDE_ROLES = {MANAGER, ADMIN}

DOMAIN_APPS = ["healthops", "staffing", "scheduling", "authorizations", "referrals"]
_VIEW_CASEWORK = [
    "healthops.view_patient", "healthops.view_site", "healthops.view_department", "healthops.view_organization",
    "healthops.view_event", "referrals.view_referral", "referrals.view_referraldocument",
    "scheduling.view_appointment", "scheduling.view_servicetype", "scheduling.view_room", "scheduling.view_equipment",
    "authorizations.view_coverage", "authorizations.view_authorization", "authorizations.view_eligibilitycheck",
    "authorizations.view_payer", "authorizations.view_payerrule", "staffing.view_staffmember", "staffing.view_shift",
]
_FLOW_VIEW = ["referrals.view_referralprocess"]
ROLE_PERMISSIONS: dict[str, list[str]] = {
    COORDINATOR: _VIEW_CASEWORK + _FLOW_VIEW + [
        "referrals.can_match_patient", "referrals.can_outreach", "referrals.can_verify_eligibility",
        "healthops.add_patient", "healthops.change_patient", "referrals.add_referral", "referrals.change_referral",
        "referrals.add_referraldocument", "authorizations.add_coverage", "authorizations.change_coverage",
    ],
    SCHEDULER: _VIEW_CASEWORK + _FLOW_VIEW + ["referrals.can_schedule",
        "scheduling.add_appointment", "scheduling.change_appointment", "referrals.change_referral",
        "scheduling.book_outside_template",
        "staffing.view_timeoff",
    ],
    AUTHSPECIALIST: _VIEW_CASEWORK + _FLOW_VIEW + [
        "referrals.can_work_authorizations", "referrals.can_verify_eligibility", "referrals.can_override",
        "authorizations.add_authorization", "authorizations.change_authorization",
        "authorizations.add_eligibilitycheck", "authorizations.add_coverage", "authorizations.change_coverage",
        "referrals.change_referral",
    ],
    MANAGER: _VIEW_CASEWORK + _FLOW_VIEW + ["referrals.can_lead", "referrals.manage_referralprocess", "referrals.can_override",
                                            "healthops.view_override", "auditlog.view_logentry", "staffing.view_timeoff",
                               "staffing.view_credential"],
}


def ensure_roles() -> None:
    """Create the role groups with their permissions (idempotent; runs after every migrate)."""
    all_domain = Permission.objects.filter(content_type__app_label__in=DOMAIN_APPS + ["auditlog"])
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        if role == ADMIN:
            group.permissions.set(all_domain)
            continue
        wanted = []
        for dotted in ROLE_PERMISSIONS[role]:
            app_label, codename = dotted.split(".")
            wanted.append((app_label, codename))
        perms = [p for p in all_domain if (p.content_type.app_label, p.codename) in wanted]
        group.permissions.set(perms)


def roles_of(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_healthops_roles", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._healthops_roles = cached
    return cached


def is_network_wide(user) -> bool:
    if user.is_superuser or roles_of(user) & NETWORK_WIDE_ROLES:
        return True
    profile = getattr(user, "profile", None)
    return bool(profile and profile.network_wide)


def site_ids_for(user) -> set[int] | None:
    """The ids of the sites a user works for, or None when they see the whole network."""
    if is_network_wide(user):
        return None
    cached = getattr(user, "_healthops_site_ids", None)
    if cached is None:
        profile = getattr(user, "profile", None)
        cached = set(profile.sites.values_list("id", flat=True)) if profile else set()
        user._healthops_site_ids = cached
    return cached
