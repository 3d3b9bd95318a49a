"""Authentication of the sandbox: `Authorization: Bearer <jwt>`, like Saleor's JWT backend.

As in Saleor, a request without a token authenticates nobody and a bad token
raises a `jwt.PyJWTError`, which the plugin answers with 401.
"""

from __future__ import annotations

import jwt
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from .tokens import decode_access_token

BEARER_PREFIXES = ("bearer", "jwt")


def get_token_from_request(request) -> str | None:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    parts = header.split()
    if len(parts) == 2 and parts[0].lower() in BEARER_PREFIXES:
        return parts[1]
    return None


class BearerTokenBackend(ModelBackend):
    """Authenticates bearer tokens; permission checks are Django's (`order.manage_orders`)."""

    def authenticate(self, request=None, username=None, password=None, **kwargs):
        if request is None or username is not None:
            return None
        token = get_token_from_request(request)
        if not token:
            return None
        payload = decode_access_token(token)
        user = get_user_model().objects.filter(pk=payload["sub"]).first()
        if user is None or not user.is_active:
            raise jwt.InvalidTokenError(
                "The user of this token does not exist or is inactive."
            )
        return user
