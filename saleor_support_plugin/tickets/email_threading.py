"""Reply addresses that thread email into tickets: support+t<number>.<mac>@domain."""

from __future__ import annotations

import re

from django.utils.crypto import constant_time_compare, salted_hmac

from ..conf import SupportSettings
from .models import Ticket

_CODE = re.compile(r"\+t(\d+)\.([0-9a-f]{12})@", re.IGNORECASE)


def _mac(ticket: Ticket) -> str:
    return salted_hmac(
        "saleor-support-plugin.reply-address", str(ticket.pk)
    ).hexdigest()[:12]


def reply_address(ticket: Ticket, settings: SupportSettings) -> str:
    if not settings.inbound_email_address:
        return ""
    local, _, domain = settings.inbound_email_address.partition("@")
    return f"{local}+t{ticket.number}.{_mac(ticket)}@{domain}"


def ticket_from_address(address: str) -> Ticket | None:
    """Return the ticket a reply address names, if its code is genuine."""
    match = _CODE.search(address)
    if not match:
        return None
    ticket = Ticket.objects.filter(number=int(match.group(1))).first()
    if ticket is None or not constant_time_compare(
        _mac(ticket), match.group(2).lower()
    ):
        return None
    return ticket


_QUOTE_HEADER = re.compile(
    r"^(On .{0,300} wrote:|Am .{0,300} schrieb .{0,200}:|-----Original Message-----|From: .+)$",
    re.IGNORECASE,
)


def trim_quoted(text: str) -> str:
    """Keep what the sender wrote: drop quoted lines and everything after a reply header."""
    kept = []
    for line in text.replace("\r\n", "\n").split("\n"):
        stripped = line.strip()
        if _QUOTE_HEADER.match(stripped):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()
