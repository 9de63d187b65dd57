"""The navigation a user sees depends on their roles."""

from django.urls import reverse

from .permissions import ADMIN, AUTHSPECIALIST, COORDINATOR, MANAGER, SCHEDULER, is_network_wide, roles_of

# (label, url name, roles that see it; None = everyone signed in). Dashboards join this list when their issue
# lands; until then no menu entry points at a page that does not exist.
NAV = [
    ("Work queues", "queues:index", {COORDINATOR, SCHEDULER, AUTHSPECIALIST, MANAGER, ADMIN}),
    ("Referrals", "referrals:list", None),
    ("Scheduling", "scheduling:appointments", {SCHEDULER, COORDINATOR, MANAGER, ADMIN}),
    ("Authorizations", "authorizations:list", {AUTHSPECIALIST, COORDINATOR, MANAGER, ADMIN}),
    ("Staffing", "staffing:staff", {SCHEDULER, MANAGER, ADMIN}),
    ("Dashboards", "dashboards:index", {MANAGER, ADMIN}),
]


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = roles_of(user)
    items = [
        {"label": label, "url": reverse(name), "active": request.path.startswith(reverse(name))}
        for label, name, allowed in NAV
        if allowed is None or user.is_superuser or roles & allowed
    ]
    if user.is_staff:
        items.append({"label": "Admin", "url": reverse("admin:index"), "active": False})
    return {
        "integration_outages": outages(),
        "nav_items": items,
        "user_roles": sorted(roles),
        "user_network_wide": is_network_wide(user),
    }


SYSTEM_NAMES = {"payer": "Payer connections", "erp": "The ERP", "workforce": "The workforce system",
                "messaging": "Patient messaging"}


def outages() -> list[str]:
    """Systems whose circuit is open: every page says so, so nobody waits on an answer that is not coming."""
    from .models import CircuitBreaker

    open_systems = CircuitBreaker.objects.filter(state=CircuitBreaker.State.OPEN).values_list("system", flat=True)
    return [SYSTEM_NAMES.get(s, s) for s in open_systems]
