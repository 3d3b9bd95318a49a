"""Guests (orders placed without an account) prove ownership with order number + email.

Two signed tokens, both sent as `X-Support-Guest-Token`: an order token from
`supportGuestTokenCreate` (that order's tickets, two hours), and a ticket link
token from the links in ticket emails (that one ticket, thirty days).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

SALT = "saleor-support-plugin.guest"
GUEST_TOKEN_MAX_AGE_SECONDS = 2 * 3600
LINK_SALT = "saleor-support-plugin.ticket-link"
# Links in emails are opened days later.
LINK_TOKEN_MAX_AGE_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class GuestClaims:
    order_id: str | None
    email: str
    ticket_id: str | None = None


def make_guest_token(order_id: str, email: str) -> str:
    return signing.dumps({"o": order_id, "e": email.lower()}, salt=SALT, compress=True)


def make_ticket_link_token(ticket_id: str, email: str) -> str:
    """Sign a token for the link in ticket emails: that one ticket, for its customer."""
    return signing.dumps(
        {"t": ticket_id, "e": email.lower()}, salt=LINK_SALT, compress=True
    )


def read_guest_token(token: str) -> GuestClaims | None:
    """Return the claims of an order token or a ticket link token; None when invalid or expired."""
    for salt, max_age in (
        (SALT, GUEST_TOKEN_MAX_AGE_SECONDS),
        (LINK_SALT, LINK_TOKEN_MAX_AGE_SECONDS),
    ):
        try:
            data = signing.loads(token, salt=salt, max_age=max_age)
        except signing.BadSignature:  # includes SignatureExpired
            continue
        if not isinstance(data, dict) or not isinstance(data.get("e"), str):
            return None
        order_id, ticket_id = data.get("o"), data.get("t")
        if isinstance(order_id, str):
            return GuestClaims(order_id=order_id, email=data["e"])
        if isinstance(ticket_id, str):
            return GuestClaims(order_id=None, email=data["e"], ticket_id=ticket_id)
        return None
    return None
