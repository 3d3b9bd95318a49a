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
- A reply to one of our order emails (shipped, delayed, …; by its Message-ID)
  opens a ticket about that order when it comes from the order's customer
  address; a further reply to the same email joins that ticket. The Message-ID
  shows the sender received our email, not that they own the address: the
  ticket joins the customer's account only when the sender is verified too
  (and the order is that account's); otherwise it is guest-style, as above.
- New tickets are limited per sender address (`ticket_rate_limit_per_hour`)
  and, for unverified senders, per sender domain (ten times that); a refused
  mail leaves nothing behind.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
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
from ..notifications.identity import (
    EMAIL_HEADERS_KEY,
    order_code_is_genuine,
    order_number_in,
)
from ..notifications.kinds import TICKET_KINDS, NotificationKind
from ..notifications.models import Notification, NotificationChannel
from ..orders.locks import lock_order
from ..orders.models import OrderSnapshot
from .email_threading import ticket_from_address, trim_quoted
from .models import InboundEmail, Ticket, TicketCategory, TicketChannel, TicketStatus
from .sender_auth import SenderAuthentication, is_verified
from .services import STATUS_FIELDS, change_status, ticket_create, ticket_reply

# Our Message-IDs: `<notification uuid@domain>`, the domain the sender's (or
# the fixed one of older rows). Any domain matches here; the whole id must then
# equal the one the notification was sent with, so a foreign `<uuid@elsewhere>`
# never does.
OUR_MESSAGE_ID = re.compile(r"<([0-9a-f-]{36})@([^<>@\s]+)>", re.IGNORECASE)
# At most this many ids of one mail are looked up (References may list 100).
MAX_MESSAGE_IDS = 20

SHIPPING_KINDS = frozenset(
    {
        NotificationKind.SHIPPED,
        NotificationKind.TRACKING_UPDATED,
        NotificationKind.DELAYED,
        NotificationKind.OUT_FOR_DELIVERY,
        NotificationKind.DELIVERED,
        NotificationKind.DELIVERY_EXCEPTION,
    }
)
CATEGORY_BY_KIND = {
    **{kind.value: TicketCategory.SHIPPING for kind in SHIPPING_KINDS},
    NotificationKind.RETURN_RECEIVED.value: TicketCategory.RETURN,
    NotificationKind.REFUND_ISSUED.value: TicketCategory.REFUND,
    NotificationKind.CONFIRMED.value: TicketCategory.ORDER_STATUS,
    NotificationKind.CANCELLED.value: TicketCategory.ORDER_STATUS,
}


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
class OrderReply:
    """A mail answering our email `notification` about `order`, from its customer."""

    order: OrderSnapshot
    notification: Notification

    @property
    def category(self) -> str:
        return CATEGORY_BY_KIND.get(self.notification.kind, TicketCategory.OTHER)


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


def _sent_message_id(notification: Notification) -> str:
    """Return the Message-ID the email went out with (stored on newer rows, with their domain)."""
    headers = (notification.context or {}).get(EMAIL_HEADERS_KEY)
    stored = headers.get("Message-ID") if isinstance(headers, dict) else None
    return stored if isinstance(stored, str) and stored else notification.message_id


def our_emails(ids: Iterable[str]) -> list[Notification]:
    """Return our emails the mail names by Message-ID, in the order named (one query)."""
    named: dict[uuid.UUID, str] = {}
    for raw in ids:
        for match in OUR_MESSAGE_ID.finditer(raw):
            try:
                notification_id = uuid.UUID(match.group(1))
            except ValueError:
                continue  # 36 hex digits and dashes, but not a UUID
            named.setdefault(notification_id, match.group(0))
        if len(named) >= MAX_MESSAGE_IDS:
            break
    if not named:
        return []
    found = Notification.objects.filter(
        pk__in=list(named)[:MAX_MESSAGE_IDS], channel=NotificationChannel.EMAIL
    ).in_bulk()
    return [
        found[notification_id]
        for notification_id, raw in named.items()
        if notification_id in found
        and _sent_message_id(found[notification_id]).lower() == raw.lower()
    ]


def _ticket_of(emails: list[Notification]) -> Ticket | None:
    """Return the ticket of the first of our ticket emails that names one."""
    for notification in emails:
        number = (notification.context.get("ticket") or {}).get("number")
        if number is not None:
            ticket = Ticket.objects.filter(number=number).first()
            if ticket is not None:
                return ticket
    return None


def _order_reply(emails: list[Notification], sender: str) -> OrderReply | None:
    """Return the order email answered, if the sender is that order's customer address."""
    for notification in emails:
        if notification.kind in TICKET_KINDS or not notification.order_id:
            continue
        order = OrderSnapshot.objects.filter(order_id=notification.order_id).first()
        if order is not None and order.customer_email.lower() == sender:
            return OrderReply(order=order, notification=notification)
    return None


def _order_reply_by_address(to: Iterable[str], sender: str) -> OrderReply | None:
    """Return the order an order email's Reply-To names, if genuine and the sender's."""
    for address in to:
        named = order_number_in(address)
        if named is None:
            continue
        number, code = named
        order = OrderSnapshot.objects.filter(number=number).first()
        if (
            order is None
            or not order_code_is_genuine(order.order_id, code)
            or order.customer_email.lower() != sender
        ):
            continue
        # The order's latest email stands for the one answered (its kind names the category).
        latest = (
            Notification.objects.filter(
                order_id=order.order_id, channel=NotificationChannel.EMAIL
            )
            .exclude(kind__in=[kind.value for kind in TICKET_KINDS])
            .order_by("-created_at")
            .first()
        )
        if latest is not None:
            return OrderReply(order=order, notification=latest)
    return None


def _ticket_of_order_reply(reply: OrderReply, sender: str) -> Ticket | None:
    """Return the ticket an earlier reply from this sender to the same order email opened."""
    earlier = (
        InboundEmail.objects.filter(
            order_notification_id=reply.notification.pk,
            sender=sender,
            ticket__order=reply.order,
        )
        .select_related("ticket")
        .order_by("-created_at")
        .first()
    )
    return earlier.ticket if earlier is not None else None


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
        order_reply = None
        if ticket is None:
            # Nearest first: In-Reply-To, then References from the newest.
            emails = our_emails([email.in_reply_to, *reversed(email.references)])
            ticket = _ticket_of(emails)
            if ticket is None:
                order_reply = _order_reply(emails, sender) or _order_reply_by_address(
                    email.to, sender
                )
                if order_reply is not None:
                    # Two replies to one order email at once: the second waits
                    # for the first's commit and then joins its ticket.
                    lock_order(order_reply.order.order_id)
                    ticket = _ticket_of_order_reply(order_reply, sender)
        body = _body(email)
        result = _deliver(ticket, email, body, sender, verified, settings, order_reply)
        record.outcome = result.outcome
        record.ticket = (
            Ticket.objects.filter(number=result.ticket_number).first()
            if result.ticket_number
            else None
        )
        if (
            order_reply is not None
            and record.ticket is not None
            and record.ticket.order_id == order_reply.order.pk
        ):
            record.order_notification_id = order_reply.notification.pk
        record.save(update_fields=["outcome", "ticket", "order_notification_id"])
    return result


def _deliver(
    ticket: Ticket | None,
    email: InboundEmailData,
    body: str,
    sender: str,
    verified: bool,
    settings: SupportSettings,
    order_reply: OrderReply | None = None,
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
                change_status(ticket, TicketStatus.OPEN, timezone.now(), settings)
                ticket.save(update_fields=[*STATUS_FIELDS, "updated_at"])
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
    requestor = _requestor(sender, link_account=verified)
    if order_reply is not None and (
        not order_reply.order.user_id or requestor.user_id != order_reply.order.user_id
    ):
        # An order's ticket is in an account only when that account owns the
        # order (as for tickets opened on the web); else it is guest-style.
        requestor = _requestor(sender, link_account=False)
    created = ticket_create(
        requestor=requestor,
        settings=settings,
        subject=re.sub(r"^(re|aw|fwd?):\s*", "", subject, flags=re.IGNORECASE)[:200],
        body=body,
        channel=TicketChannel.EMAIL,
        category=order_reply.category if order_reply else TicketCategory.OTHER,
        proven_order=order_reply.order if order_reply else None,
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
