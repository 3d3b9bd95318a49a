"""Inbound email: thread replies into their ticket, open tickets from new mail, each Message-ID once.

Who may write where:

- A new ticket is attached to the customer account with the sender's address
  only when the mail provider authenticated the sender (`sender_auth`). Otherwise
  it is a guest-style ticket (no account, `sender_verified` False): the account
  with that address does not see it; the customer reaches it through the ticket
  link in the emails we send to that address, as a guest does.
- A reply threads into an existing ticket when it names the ticket by its reply
  address (support+t<number>.<code>@…, the code an HMAC only the recipients of
  our emails know) or by the Message-ID of one of our emails (random, likewise),
  and comes from the ticket's customer address. Verification is not required
  there: knowing the code is the proof, as a ticket link is.
- New tickets are limited per sender address (`ticket_rate_limit_per_hour`)
  and, for unverified senders, per sender domain (ten times that); a refused
  mail leaves nothing behind.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from ..auth import Requestor, RequestorKind
from ..conf import SupportSettings
from ..core.errors import SupportErrorCode
from ..core.ratelimit import Limit, hit
from ..core.text import sanitize_html
from .email_threading import ticket_from_address, trim_quoted
from .models import InboundEmail, Ticket, TicketChannel, TicketStatus
from .sender_auth import SenderAuthentication, is_verified
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
    authentication: SenderAuthentication = field(default=SenderAuthentication())


@dataclass(frozen=True)
class InboundResult:
    outcome: str  # created, replied, duplicate, sender_mismatch, empty
    ticket_number: int | None = None


# Anyone can claim addresses at a domain of their own: unverified senders are
# limited per domain too, wider than per address.
DOMAIN_LIMIT_FACTOR = 10


class InboundRateLimited(Exception):
    """Too many new tickets from this sender (or domain) this hour."""

    code = SupportErrorCode.RATE_LIMITED

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many new tickets from this sender; try again later.")
        self.retry_after = retry_after


def _ticket_from_message_ids(ids: list[str]) -> Ticket | None:
    """Return the ticket one of our ticket emails (by its Message-ID) belonged to."""
    from ..notifications.models import Notification

    for raw in ids:
        match = OUR_MESSAGE_ID.search(raw)
        try:
            notification_id = uuid.UUID(match.group(1)) if match else None
        except ValueError:
            notification_id = None  # 36 hex digits and dashes, but not a UUID
        if notification_id is None:
            continue
        notification = Notification.objects.filter(pk=notification_id).first()
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


def _requestor(sender: str, *, link_account: bool) -> Requestor:
    """Return the sender as a customer; with their account only when `link_account`."""
    user = (
        get_user_model()
        .objects.filter(email__iexact=sender, is_active=True, is_staff=False)
        .first()
        if link_account
        else None
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
    verified = is_verified(email.authentication, sender)
    # One transaction: a refusal (rate limit, invalid body) rolls back the
    # Message-ID record too, so the provider's retry is processed afresh.
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
        result = _deliver(ticket, email, body, sender, verified, settings)
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
    verified: bool,
    settings: SupportSettings,
) -> InboundResult:
    if not body:
        return InboundResult("empty")
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
            # The reply code proved the thread: no verification needed, and the
            # message is the account's only when the ticket is.
            ticket_reply(
                requestor=_requestor(
                    sender, link_account=ticket.customer_user_id is not None
                ),
                settings=settings,
                ticket=ticket,
                body=body,
            )
            return InboundResult("replied", ticket.number)
    _check_new_ticket_rate(sender, verified, settings)
    subject = email.subject.strip() or "(no subject)"
    created = ticket_create(
        requestor=_requestor(sender, link_account=verified),
        settings=settings,
        subject=re.sub(r"^(re|aw|fwd?):\s*", "", subject, flags=re.IGNORECASE)[:200],
        body=body,
        channel=TicketChannel.EMAIL,
    )
    if not verified:
        # Same transaction as the create: never visible without the flag.
        Ticket.objects.filter(pk=created.pk).update(sender_verified=False)
    return InboundResult("created", created.number)


def _check_new_ticket_rate(
    sender: str, verified: bool, settings: SupportSettings
) -> None:
    per_hour = settings.ticket_rate_limit_per_hour
    if per_hour == 0:
        return
    checks = [(Limit("inbound-email-sender", per_hour), sender)]
    if not verified:
        checks.append(
            (
                Limit("inbound-email-domain", per_hour * DOMAIN_LIMIT_FACTOR),
                sender.rsplit("@", 1)[-1],
            )
        )
    for limit, identity in checks:
        wait = hit(limit, identity)
        if wait is not None:
            raise InboundRateLimited(max(1, wait))
