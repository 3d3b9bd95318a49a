"""Who our emails come from and how they are named: shop name, Message-IDs, threads.

Read when a notification's context is built (in the task or the ticket
mutation), never in a Saleor hook.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.utils.crypto import constant_time_compare, salted_hmac

from ..conf import DEFAULT_SENDER_NAME, SupportSettings
from ..ports import shop_name

# The email's own headers (Message-ID, threading), kept in the row's context so
# a retry sends the same ones; not a template variable.
EMAIL_HEADERS_KEY = "email_headers"
# Used when neither the sender address nor the public URL names a domain.
FALLBACK_DOMAIN = "support.saleor-plugin"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
# A Message-ID we may repeat in References: one bracketed token, no spaces or controls.
_MSG_ID = re.compile(r"^<[!-;=?-~]{1,900}>$")


def store_name(settings: SupportSettings) -> str:
    """Name the sender: the merchant's choice, else the shop (while left at the default)."""
    if settings.sender_name and settings.sender_name != DEFAULT_SENDER_NAME:
        return settings.sender_name
    return shop_name() or settings.sender_name


def sender_address(settings: SupportSettings) -> str:
    return settings.sender_address or django_settings.DEFAULT_FROM_EMAIL


def message_id_domain(settings: SupportSettings) -> str:
    """Name our Message-IDs' domain: the sender's, else the public URL's host.

    A name without a dot (localhost) or an IP address is no real domain; then
    the fixed fallback is kept.
    """
    address = parseaddr(sender_address(settings) or "")[1]
    public_url = settings.public_url or getattr(django_settings, "PUBLIC_URL", "") or ""
    candidates = (
        address.rpartition("@")[2] if "@" in address else "",
        urlsplit(public_url).hostname or "",
    )
    for candidate in candidates:
        domain = candidate.strip().lower().rstrip(".")
        if _is_real_domain(domain):
            return domain
    return FALLBACK_DOMAIN


def _is_real_domain(name: str) -> bool:
    if "." not in name or len(name) > 253 or not _DOMAIN.match(name):
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return True
    return False


def message_id(notification_id: uuid.UUID | str, domain: str) -> str:
    """`<uuid@domain>`: inbound mail finds the notification by the 36-character uuid."""
    return f"<{notification_id}@{domain}>"


def ticket_thread_id(ticket_id: uuid.UUID | str, domain: str) -> str:
    """Name the root every email about one ticket refers to, so mail clients thread them."""
    return f"<ticket-{ticket_id}@{domain}>"


def email_headers(
    notification_id: uuid.UUID, domain: str, references: list[str]
) -> dict[str, Any]:
    """Build one email's headers, stored on its row (stable across retries)."""
    headers = {"Message-ID": message_id(notification_id, domain)}
    references = [ref for ref in dict.fromkeys(references) if _MSG_ID.match(ref)]
    if references:
        headers["In-Reply-To"] = references[-1]
        headers["References"] = " ".join(references)
    return headers


# Order emails' Reply-To: support+o<order number>.<mac>@domain. A reply to it
# opens a ticket about that order even when the mail client drops the
# In-Reply-To and References headers.
_ORDER_CODE = re.compile(r"\+o(\d{1,20})\.([0-9a-f]{12})@", re.IGNORECASE)


def _order_mac(order_id: str) -> str:
    return salted_hmac(
        "saleor-support-plugin.order-reply-address", order_id
    ).hexdigest()[:12]


def order_reply_address(order_id: str, number: str, settings: SupportSettings) -> str:
    """Return the Reply-To of an email about the order ("" without an inbound address)."""
    if not settings.inbound_email_address or not str(number).isdigit():
        return ""
    local, _, domain = settings.inbound_email_address.partition("@")
    return f"{local}+o{number}.{_order_mac(order_id)}@{domain}"


def order_number_in(address: str) -> tuple[str, str] | None:
    """Return (order number, code) an order reply address names, unverified."""
    match = _ORDER_CODE.search(address)
    return (match.group(1), match.group(2).lower()) if match else None


def order_code_is_genuine(order_id: str, code: str) -> bool:
    return constant_time_compare(_order_mac(order_id), code)
