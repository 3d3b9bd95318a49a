"""Guests (orders placed without an account) prove ownership with order number + email.

Two signed tokens, both sent as `X-Support-Guest-Token`: an order token from
`supportGuestTokenCreate` (that order's tickets, two hours), and a ticket link
token from the links in ticket emails (that one ticket, thirty days).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.core import signing
from django.db.models import Q

from ..core.errors import SupportErrorCode, error
from ..core.ratelimit import Limit, hit, is_over

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


# Wrong guesses are counted per address and per number+email pair, never per
# number alone: a number under attack from many addresses must still let its
# real owner in. Every lookup also counts per address, to bound token farming.
# A quarter-hour window: a household behind one address that an attacker
# used up waits minutes, not the rest of the hour.
GUEST_FAILURES_PER_IP = Limit("guest-fail-ip", 10, window_seconds=900)
GUEST_FAILURES_PER_PAIR = Limit("guest-fail-pair", 5)
GUEST_LOOKUPS_PER_IP = Limit("guest-lookup-ip", 60)

NOT_FOUND_MESSAGE = (
    "No order placed without an account matches this number and email. "
    "If you have an account, sign in to see your orders and tickets."
)


def guest_orders() -> Q:
    """Orders placed without an account: the only ones a guest token can open."""
    return Q(user_id__isnull=True) | Q(user_id="")


def _pair_key(number: str, email: str) -> str:
    # Hashed: the counter table should not hold customers' addresses.
    return hashlib.sha256(f"{number}\n{email}".encode()).hexdigest()[:40]


def _rate_limited() -> Exception:
    return error(
        None, "Too many attempts; try again later.", SupportErrorCode.RATE_LIMITED
    )


def guest_token_create(
    *, order_number: str, email: str, client_ip: str | None
) -> tuple[str, int]:
    """Return (token, seconds valid) for a guest order proved by number + email.

    An order placed with an account, a wrong pair and a missing order answer
    alike, so neither accounts nor order numbers can be enumerated.
    """
    from ..orders.models import OrderSnapshot

    number = (order_number or "").strip().lstrip("#")
    address = (email or "").strip().lower()
    pair = _pair_key(number, address)
    if client_ip and hit(GUEST_LOOKUPS_PER_IP, f"ip:{client_ip}") is not None:
        raise _rate_limited()
    if client_ip and is_over(GUEST_FAILURES_PER_IP, f"ip:{client_ip}"):
        raise _rate_limited()
    if is_over(GUEST_FAILURES_PER_PAIR, pair):
        raise _rate_limited()
    order = (
        OrderSnapshot.objects.filter(
            guest_orders(), number=number, customer_email=address
        )
        .only("order_id", "customer_email")
        .first()
        if number and address
        else None
    )
    if order is None:
        if client_ip:
            hit(GUEST_FAILURES_PER_IP, f"ip:{client_ip}")
        hit(GUEST_FAILURES_PER_PAIR, pair)
        raise error("orderNumber", NOT_FOUND_MESSAGE, SupportErrorCode.NOT_FOUND)
    return make_guest_token(
        order.order_id, order.customer_email
    ), GUEST_TOKEN_MAX_AGE_SECONDS
