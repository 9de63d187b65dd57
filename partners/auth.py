"""Bearer tokens for partner clients, and scope checks (sessions map scopes to the user's own permissions)."""

from django.utils import timezone
from rest_framework import authentication, exceptions, permissions

from .models import PartnerClient, Scope, hash_token


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`. request.user is the client's (inactive) actor; request.auth the client."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not token.strip() or " " in token.strip():
            raise exceptions.AuthenticationFailed("Send the token as `Authorization: Bearer <token>`.")
        client = (PartnerClient.objects.select_related("organization", "user")
                  .filter(token_hash=hash_token(token.strip())).first())
        if client is None or not client.is_usable:
            raise exceptions.AuthenticationFailed("The token is unknown, revoked or expired.")
        if client.last_used_at is None or (timezone.now() - client.last_used_at).total_seconds() > 60:
            PartnerClient.objects.filter(pk=client.pk).update(last_used_at=timezone.now())  # at most once a minute
        return client.user, client

    def authenticate_header(self, request):
        return 'Bearer realm="healthops"'


def partner_client(request) -> PartnerClient | None:
    return request.auth if isinstance(request.auth, PartnerClient) else None


# What a logged-in user needs to do what a scope allows a partner to do.
SCOPE_PERMISSIONS = {
    Scope.REFERRALS_WRITE: "referrals.add_referral",
    Scope.REFERRALS_READ: "referrals.view_referral",
    Scope.SLOTS_READ: "scheduling.view_appointment",
    Scope.APPOINTMENTS_WRITE: "scheduling.add_appointment",
    Scope.APPOINTMENTS_READ: "scheduling.view_appointment",
    Scope.WEBHOOKS_MANAGE: "healthops.change_subscription",
}


class HasScope(permissions.BasePermission):
    """The view's `required_scopes[method]` (or `required_scope`): a token must carry it; a session user must hold the
    matching permission. `staff_only` views (KPIs, staffing, queues) take sessions only, with `staff_permission`."""

    message = "This token lacks the scope this operation needs."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        client = partner_client(request)
        scope = getattr(view, "required_scopes", {}).get(request.method, getattr(view, "required_scope", None))
        if getattr(view, "staff_only", False):
            if client is not None:
                self.message = "Partner tokens cannot use this endpoint; it is for HealthOps staff."
                return False
            perm = getattr(view, "staff_permission", None)
            return perm is None or request.user.has_perm(perm)
        if client is not None:
            if scope and not client.has_scope(scope):
                self.message = f"This token lacks the `{scope}` scope."
                return False
            return True
        if getattr(view, "token_only", False):
            self.message = "This endpoint is for partner tokens."
            return False
        perm = SCOPE_PERMISSIONS.get(scope) if scope else None
        if perm and not request.user.has_perm(perm):
            self.message = f"Your account lacks the permission `{perm}`."
            return False
        return True
