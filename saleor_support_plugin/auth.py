"""Who is calling: resolved once per request into a `Requestor`.

`django.contrib.auth.authenticate(request=request)` reaches Saleor's JWT backend
inside Saleor and the sandbox's bearer-token backend outside it, so this module
needs neither.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import jwt
from django.contrib.auth import authenticate
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

logger = logging.getLogger(__name__)

# Saleor's permission codename for managing orders (OrderPermissions.MANAGE_ORDERS).
MANAGE_ORDERS = "order.manage_orders"


class RequestorKind(Enum):
    ANONYMOUS = "anonymous"
    GUEST = "guest"
    CUSTOMER = "customer"
    STAFF = "staff"


class AuthenticationFailed(Exception):
    """The request carried credentials that are not valid (answer 401)."""

    code = "invalid_token"


@dataclass(frozen=True)
class Requestor:
    kind: RequestorKind
    user_id: str | None = None
    email: str | None = None
    # The host's user object, kept for permission checks only.
    user: Any = field(default=None, repr=False, compare=False)
    # A guest proved ownership of this one order (order number + email), or
    # followed the link to this one ticket from an email.
    guest_order_id: str | None = None
    guest_ticket_id: str | None = None

    @property
    def is_anonymous(self) -> bool:
        return self.kind is RequestorKind.ANONYMOUS

    @property
    def is_staff(self) -> bool:
        return self.kind is RequestorKind.STAFF

    @property
    def is_guest(self) -> bool:
        return self.kind is RequestorKind.GUEST

    def has_perm(self, permission: str) -> bool:
        """Staff permission check through the host's user model."""
        return self.is_staff and bool(self.user.has_perm(permission))


ANONYMOUS = Requestor(kind=RequestorKind.ANONYMOUS)


def requestor_from_user(user: Any) -> Requestor:
    if user is None or not getattr(user, "is_active", False):
        return ANONYMOUS
    kind = (
        RequestorKind.STAFF
        if getattr(user, "is_staff", False)
        else RequestorKind.CUSTOMER
    )
    return Requestor(
        kind=kind,
        user_id=str(user.pk),
        email=(user.email or "").lower() or None,
        user=user,
    )


def has_credentials(request: HttpRequest) -> bool:
    header = request.META.get("HTTP_AUTHORIZATION", "") or request.META.get(
        "HTTP_AUTHORIZATION_BEARER", ""
    )
    return bool(header.strip())


GUEST_TOKEN_HEADER = "HTTP_X_SUPPORT_GUEST_TOKEN"


def resolve_requestor(request: HttpRequest) -> Requestor:
    """Authenticate the request; raise AuthenticationFailed for bad credentials.

    A signed-in user sends Saleor's `Authorization: Bearer <JWT>`; a guest sends
    the token from `supportGuestTokenCreate` in `X-Support-Guest-Token`.
    """
    guest_token = request.META.get(GUEST_TOKEN_HEADER, "").strip()
    if guest_token and not has_credentials(request):
        from .tickets.guest import read_guest_token

        claims = read_guest_token(guest_token)
        if claims is None:
            raise AuthenticationFailed("Invalid or expired guest token.")
        return Requestor(
            kind=RequestorKind.GUEST,
            email=claims.email,
            guest_order_id=claims.order_id,
            guest_ticket_id=claims.ticket_id,
        )
    try:
        user = authenticate(request=request)
    except (jwt.PyJWTError, PermissionDenied) as exc:
        # The reason is for our logs only; the token itself is never logged.
        logger.info("Rejected credentials: %s", type(exc).__name__)
        raise AuthenticationFailed(str(exc) or "Invalid token.") from None
    if user is None and has_credentials(request):
        raise AuthenticationFailed("Invalid or expired token.")
    return requestor_from_user(user)
