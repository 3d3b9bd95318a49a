"""Inbound email: thread replies into their ticket, open tickets from new mail, each Message-ID once."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..auth import Requestor, RequestorKind
from ..conf import SupportSettings
from ..core.text import sanitize_html
from .email_threading import ticket_from_address, trim_quoted
from .models import InboundEmail, Ticket, TicketChannel, TicketStatus
from .services import ticket_create, ticket_reply

OUR_MESSAGE_ID = re.compile(r"<([0-9a-f-]{36})@support\.saleor-plugin>", re.IGNORECASE)


@dataclass(frozen=True)
class InboundEmailData:
    sender: str
    to: tuple[str, ...]
    subject: str
    text: str
    html: str
    message_id: str
    in_reply_to: str = ""
    references: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class InboundResult:
    outcome: str  # created, replied, duplicate, sender_mismatch, empty
    ticket_number: int | None = None


def _ticket_from_message_ids(ids: list[str]) -> Ticket | None:
    """Return the ticket one of our ticket emails (by its Message-ID) belonged to."""
    from ..notifications.models import Notification

    for raw in ids:
        match = OUR_MESSAGE_ID.search(raw)
        if not match:
            continue
        notification = Notification.objects.filter(pk=match.group(1)).first()
        number = (
            (notification.context.get("ticket") or {}).get("number")
            if notification
            else None
        )
        if number is not None:
            ticket = Ticket.objects.filter(number=number).first()
            if ticket is not None:
                return ticket
    return None


def _body(email: InboundEmailData) -> str:
    text = email.text if email.text.strip() else sanitize_html(email.html)[1]
    return trim_quoted(text)


def _requestor(sender: str) -> Requestor:
    user = (
        get_user_model()
        .objects.filter(email__iexact=sender, is_active=True, is_staff=False)
        .first()
    )
    return Requestor(
        kind=RequestorKind.CUSTOMER,
        user_id=str(user.pk) if user else None,
        email=sender,
    )


def receive_inbound_email(
    email: InboundEmailData, settings: SupportSettings
) -> InboundResult:
    sender = email.sender.lower()
    with transaction.atomic():
        try:
            with transaction.atomic():
                record = InboundEmail.objects.create(
                    message_id=email.message_id, sender=sender, outcome="received"
                )
        except IntegrityError:
            return InboundResult("duplicate")
        ticket = next(
            (t for t in map(ticket_from_address, email.to) if t is not None), None
        )
        if ticket is None:
            ticket = _ticket_from_message_ids([email.in_reply_to, *email.references])
        body = _body(email)
        result = _deliver(ticket, email, body, sender, settings)
        record.outcome = result.outcome
        record.ticket = (
            Ticket.objects.filter(number=result.ticket_number).first()
            if result.ticket_number
            else None
        )
        record.save(update_fields=["outcome", "ticket"])
    return result


def _deliver(
    ticket: Ticket | None,
    email: InboundEmailData,
    body: str,
    sender: str,
    settings: SupportSettings,
) -> InboundResult:
    if not body:
        return InboundResult("empty")
    requestor = _requestor(sender)
    if ticket is not None:
        if ticket.customer_email.lower() != sender:
            # Someone else replying (or forging the thread) never writes into a customer's ticket.
            return InboundResult("sender_mismatch", ticket.number)
        window = timedelta(days=settings.ticket_reopen_window_days)
        ended = ticket.closed_at or ticket.solved_at
        if (
            ticket.status == TicketStatus.CLOSED
            and ended is not None
            and timezone.now() - ended > window
        ):
            ticket = None  # too late to reopen: the reply starts a new ticket
        else:
            if ticket.status == TicketStatus.CLOSED:
                ticket.status, ticket.closed_at = TicketStatus.OPEN, None
                ticket.reopen_count += 1
                ticket.save(
                    update_fields=["status", "closed_at", "reopen_count", "updated_at"]
                )
            ticket_reply(
                requestor=requestor, settings=settings, ticket=ticket, body=body
            )
            return InboundResult("replied", ticket.number)
    subject = email.subject.strip() or "(no subject)"
    created = ticket_create(
        requestor=requestor,
        settings=settings,
        subject=re.sub(r"^(re|aw|fwd?):\s*", "", subject, flags=re.IGNORECASE)[:200],
        body=body,
        channel=TicketChannel.EMAIL,
    )
    return InboundResult("created", created.number)
