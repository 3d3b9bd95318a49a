"""Ticket emails through the outbox: the customer on a public staff reply, staff on new tickets and customer replies."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..conf import SupportSettings, stored_template
from ..core.handlebars import SafeHtml
from ..notifications.identity import message_id_domain, store_name, ticket_thread_id
from ..notifications.kinds import NotificationKind
from ..notifications.services import create_ticket_notification
from .email_threading import reply_address
from .guest import make_ticket_link_token
from .models import AuthorKind, InboundEmail, Ticket, TicketMessage


def ticket_url(
    ticket: Ticket, settings: SupportSettings, *, with_token: bool = True
) -> str:
    """Link the ticket's page from the ticket link setting ("" when none).

    `with_token=False` leaves the customer's link token out, for mail to the
    whole team: the token would let anyone who reads it act as that customer.
    """
    template = stored_template("ticket_url_template", settings.ticket_url_template)
    if template is None:
        return ""
    from graphql_relay import to_global_id

    token = (
        make_ticket_link_token(str(ticket.pk), ticket.customer_email)
        if with_token
        else ""
    )
    return template.render(
        {
            "ticket_id": quote(to_global_id("SupportTicket", str(ticket.pk)), safe=""),
            "number": ticket.number,
            "token": quote(token, safe=""),
        }
    ).strip()


def _context(
    ticket: Ticket, message: TicketMessage, settings: SupportSettings, *, link: bool
) -> dict[str, Any]:
    return {
        "ticket": {
            "number": ticket.number,
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": ticket.status,
        },
        "message": {
            "text": message.body_text,
            # Sanitized when the message was stored (see sanitize_html).
            "html": SafeHtml(message.body_html),
            "author_kind": message.author_kind,
        },
        "order": {"number": ticket.order.number} if ticket.order is not None else {},
        "customer_email": ticket.customer_email,
        "customer": {"first_name": customer_first_name(ticket)},
        "store": {"name": store_name(settings)},
        "ticket_url": ticket_url(ticket, settings) if link else "",
        "reply_to": reply_address(ticket, settings) if link else "",
    }


def _user_of(user_id: str | None) -> Any:
    if not user_id:
        return None
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=user_id).first()


# Saleor's User and Django's have these; the name is left empty when both are.
_NAME_PARTS = ("first_name", "last_name")


def opened_by(message: TicketMessage) -> dict[str, str] | None:
    """Return the staff member who opened a ticket for a customer; None when the customer did."""
    if message.author_kind != AuthorKind.STAFF:
        return None
    user = _user_of(message.author_user_id)
    parts = (str(getattr(user, key, "") or "").strip() for key in _NAME_PARTS)
    return {
        "name": " ".join(part for part in parts if part),
        "email": message.author_email,
    }


def customer_first_name(ticket: Ticket) -> str:
    """Return the first name on the ticket's order, else on the customer's account."""
    if ticket.order is not None and ticket.order.customer_first_name:
        return ticket.order.customer_first_name
    user = _user_of(ticket.customer_user_id)
    return str(getattr(user, "first_name", "") or "") if user is not None else ""


def thread_references(
    ticket: Ticket, settings: SupportSettings, *, answering_customer: bool = False
) -> list[str]:
    """Return the ticket's thread root, then (replying to the customer) their latest email."""
    references = [ticket_thread_id(ticket.pk, message_id_domain(settings))]
    if answering_customer:
        latest = (
            InboundEmail.objects.filter(ticket=ticket)
            .order_by("-created_at")
            .values_list("message_id", flat=True)
            .first()
        )
        if latest:
            references.append(latest)
    return references


def _staff_recipients(ticket: Ticket, settings: SupportSettings) -> list[str]:
    return (
        [ticket.assignee_email]
        if ticket.assignee_email
        else list(settings.support_staff_addresses)
    )


def _language(ticket: Ticket) -> str:
    return ticket.order.language_code if ticket.order is not None else "en"


def _order_id(ticket: Ticket) -> str | None:
    return ticket.order.order_id if ticket.order is not None else None


def notify_ticket_created(
    ticket: Ticket, message: TicketMessage, settings: SupportSettings
) -> None:
    """Tell staff of a new ticket; one staff opened for a customer names them both."""
    context = _context(ticket, message, settings, link=False)
    context["ticket"]["opened_by"] = opened_by(message)
    create_ticket_notification(
        kind=NotificationKind.TICKET_CREATED,
        key=f"ticket-created:{ticket.pk}",
        recipients=_staff_recipients(ticket, settings),
        context=context,
        order_id=_order_id(ticket),
        language_code="en",
        settings=settings,
        references=thread_references(ticket, settings),
    )


def notify_ticket_message(
    ticket: Ticket, message: TicketMessage, settings: SupportSettings
) -> None:
    """Send a public staff reply to the customer, a customer reply to the assignee or the team."""
    if message.is_internal:
        return
    from_staff = message.author_kind != "customer"
    create_ticket_notification(
        kind=NotificationKind.TICKET_REPLY
        if from_staff
        else NotificationKind.TICKET_CUSTOMER_REPLY,
        key=f"ticket-message:{message.pk}",
        recipients=[ticket.customer_email]
        if from_staff
        else _staff_recipients(ticket, settings),
        context=_context(ticket, message, settings, link=from_staff),
        order_id=_order_id(ticket),
        language_code=_language(ticket) if from_staff else "en",
        settings=settings,
        references=thread_references(ticket, settings, answering_customer=from_staff),
    )
