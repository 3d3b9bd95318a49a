"""Guests (orders placed without an account) prove ownership with order number + email."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

SALT = "saleor-support-plugin.guest"
GUEST_TOKEN_MAX_AGE_SECONDS = 2 * 3600


@dataclass(frozen=True)
class GuestClaims:
    order_id: str
    email: str


def make_guest_token(order_id: str, email: str) -> str:
    return signing.dumps({"o": order_id, "e": email.lower()}, salt=SALT, compress=True)


def read_guest_token(token: str) -> GuestClaims | None:
    try:
        data = signing.loads(token, salt=SALT, max_age=GUEST_TOKEN_MAX_AGE_SECONDS)
    except signing.BadSignature:  # includes SignatureExpired
        return None
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("o"), str)
        or not isinstance(data.get("e"), str)
    ):
        return None
    return GuestClaims(order_id=data["o"], email=data["e"])
