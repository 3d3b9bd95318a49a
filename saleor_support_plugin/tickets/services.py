"""Ticket writes: create, reply, close, reopen, assign, update, escalate.

Every function takes the requestor and checks what it may do; reads that pick
the ticket live in `selectors.access_ticket`, so another customer's ticket and
a ticket that does not exist fail the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from ..auth import Requestor
from ..conf import SupportSettings
from ..core import handlebars
from ..core.errors import PermissionDenied, SupportErrorCode, error
from ..core.handlebars import Template, TemplateSyntaxError
from ..core.ratelimit import Limit, hit
from ..core.text import sanitize_html
from ..orders.models import OrderSnapshot
from .models import (
    PRIORITY_RANK,
    AuthorKind,
    Macro,
    RoutingRule,
    Ticket,
    TicketCategory,
    TicketChannel,
    TicketMessage,
    TicketPriority,
    TicketStatus,
)
from .notifications import notify_ticket_created, notify_ticket_message
from .routing import route_ticket
from .sla import apply_sla, record_first_response, track_status_change

SUBJECT_MAX_LENGTH = 200
BODY_MAX_LENGTH = 20_000
TAG_MAX_LENGTH = 50
MAX_TAGS = 20
NUMBER_SEQUENCE = "saleor_support_plugin_ticket_number_seq"
# What `sla.track_status_change` may change, for saves with update_fields.
SLA_FIELDS = (
    "paused_at",
    "paused_business_seconds",
    "first_response_due_at",
    "resolution_due_at",
    "resolution_business_seconds",
)


# What `change_status` may change, for saves with update_fields.
STATUS_FIELDS = ("status", "solved_at", "closed_at", "reopen_count", *SLA_FIELDS)
RESOLVED = (TicketStatus.SOLVED, TicketStatus.CLOSED)


def change_status(
    ticket: Ticket, status: str, now: datetime, settings: SupportSettings
) -> None:
    """Set the status and what follows from it (not saved): resolution times, reopens, SLA.

    Every path that changes a status goes through here, so a ticket put back to
    work after it was solved or closed is always counted as reopened and loses
    its old resolution (the statistics read `solved_at`, `closed_at` and
    `reopen_count`).
    """
    previous = ticket.status
    if status == previous:
        return
    ticket.status = status
    if status == TicketStatus.SOLVED:
        ticket.solved_at, ticket.closed_at = now, None
    elif status == TicketStatus.CLOSED:
        ticket.closed_at = now
    elif previous in RESOLVED:
        ticket.reopen_count += 1
        ticket.solved_at = ticket.closed_at = None
    track_status_change(ticket, previous, now, settings)


def next_ticket_number() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval('{NUMBER_SEQUENCE}')")
        return int(cursor.fetchone()[0])


def clean_subject(subject: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        raise error("subject", "Enter a subject.", SupportErrorCode.REQUIRED)
    if len(subject) > SUBJECT_MAX_LENGTH:
        raise error(
            "subject",
            f"Keep the subject under {SUBJECT_MAX_LENGTH} characters.",
            SupportErrorCode.TOO_LONG,
        )
    return subject


@dataclass(frozen=True)
class CleanBody:
    html: str
    text: str


def clean_body(body: str) -> CleanBody:
    if len(body or "") > BODY_MAX_LENGTH:
        raise error(
            "body",
            f"Keep the message under {BODY_MAX_LENGTH} characters.",
            SupportErrorCode.TOO_LONG,
        )
    html, text = sanitize_html(body or "")
    if not text.strip():
        raise error("body", "Write a message.", SupportErrorCode.REQUIRED)
    return CleanBody(html=html, text=text)


def clean_tags(tags: list[str]) -> list[str]:
    cleaned = list(
        dict.fromkeys(tag.strip().lower() for tag in tags if tag and tag.strip())
    )
    if len(cleaned) > MAX_TAGS or any(len(tag) > TAG_MAX_LENGTH for tag in cleaned):
        raise error(
            "tags",
            f"Use at most {MAX_TAGS} tags of {TAG_MAX_LENGTH} characters.",
            SupportErrorCode.INVALID,
        )
    return cleaned


def _order_of(requestor: Requestor, order_id: str | None) -> OrderSnapshot | None:
    """Return the requestor's own order; NOT_FOUND alike for missing and not theirs."""
    if not order_id:
        return None
    order = OrderSnapshot.objects.filter(order_id=order_id).first()
    owned = order is not None and (
        (
            requestor.is_guest
            and requestor.guest_order_id == order.order_id
            and not order.user_id
        )
        or (requestor.user_id is not None and order.user_id == requestor.user_id)
        or requestor.is_staff
    )
    if not owned:
        raise error("order", "Order not found.", SupportErrorCode.NOT_FOUND)
    return order


# An IP address is shared by everyone behind one NAT: it gets a wider limit.
IP_LIMIT_FACTOR = 5


def check_write_rate(
    requestor: Requestor, settings: SupportSettings, client_ip: str | None
) -> None:
    """Limit tickets and replies per customer, guest order and IP address (staff are exempt)."""
    if requestor.is_staff or settings.ticket_rate_limit_per_hour == 0:
        return
    per_hour = settings.ticket_rate_limit_per_hour
    checks = []
    if requestor.user_id:
        checks.append((Limit("ticket-write", per_hour), f"user:{requestor.user_id}"))
    if requestor.is_guest:
        checks.append(
            (Limit("ticket-write", per_hour), f"guest:{requestor.guest_order_id}")
        )
    if client_ip:
        checks.append(
            (Limit("ticket-write-ip", per_hour * IP_LIMIT_FACTOR), f"ip:{client_ip}")
        )
    for limit, identity in checks:
        wait = hit(limit, identity)
        if wait is not None:
            raise error(
                None,
                f"Too many messages; try again in {max(1, -(-wait // 60))} minutes.",
                SupportErrorCode.RATE_LIMITED,
            )


def _require_staff(requestor: Requestor, settings: SupportSettings) -> None:
    if not requestor.has_perm(settings.staff_permission):
        raise PermissionDenied


def ticket_create(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    subject: str,
    body: str,
    order_id: str | None = None,
    category: str = TicketCategory.OTHER,
    channel: str = TicketChannel.WEB,
    client_ip: str | None = None,
    proven_order: OrderSnapshot | None = None,
) -> Ticket:
    """Open a ticket for a customer, a guest (about their order) or staff (about an order).

    `order_id` is checked against the requestor here; `proven_order` is an order
    the caller has already tied to the requestor's address (an emailed reply to
    our email about it, from that order's customer address).
    """
    if not settings.tickets_enabled:
        raise error(
            None, "Support tickets are switched off.", SupportErrorCode.FEATURE_DISABLED
        )
    if requestor.is_anonymous or (
        requestor.is_guest and requestor.guest_order_id is None
    ):
        # A ticket link lets a guest answer that ticket, not open new ones.
        raise PermissionDenied
    if requestor.is_staff:
        _require_staff(requestor, settings)
    clean = clean_body(body)
    subject = clean_subject(subject)
    if requestor.is_guest and not order_id:
        order_id = requestor.guest_order_id
    order = proven_order or _order_of(requestor, order_id)
    if requestor.is_staff and order is None:
        raise error(
            "order", "Staff open tickets about an order.", SupportErrorCode.REQUIRED
        )
    # Counted only once the request is valid: a customer fixing a typo in
    # the form must not use up their allowance.
    check_write_rate(requestor, settings, client_ip)
    customer_email = (
        order.customer_email
        if (order and requestor.is_staff)
        else (requestor.email or "")
    )
    customer_user_id = (
        order.user_id if (order and requestor.is_staff) else requestor.user_id
    )
    with transaction.atomic():
        ticket = Ticket(
            number=next_ticket_number(),
            subject=subject,
            category=category,
            channel=channel,
            customer_email=customer_email,
            customer_user_id=customer_user_id,
            order=order,
        )
        ticket.created_at = timezone.now()
        route_ticket(ticket, clean.text, settings)
        apply_sla(ticket, settings)
        ticket.save(force_insert=True)
        message = TicketMessage.objects.create(
            ticket=ticket,
            author_kind=AuthorKind.STAFF if requestor.is_staff else AuthorKind.CUSTOMER,
            author_user_id=requestor.user_id,
            author_email=requestor.email or "",
            body_html=clean.html,
            body_text=clean.text,
            channel=channel,
        )
        notify_ticket_created(ticket, message, settings)
    return ticket


def ticket_reply(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    ticket: Ticket,
    body: str,
    internal: bool = False,
    client_ip: str | None = None,
) -> TicketMessage:
    """Add a message; a staff reply waits for the customer, a customer reply reopens the work."""
    if internal or requestor.is_staff:
        _require_staff(requestor, settings)
    if ticket.status == TicketStatus.CLOSED and not requestor.is_staff:
        raise error(
            "ticket",
            "This ticket is closed; reopen it to reply.",
            SupportErrorCode.INVALID_STATUS,
        )
    clean = clean_body(body)
    check_write_rate(requestor, settings, client_ip)
    now = timezone.now()
    with transaction.atomic():
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        message = TicketMessage.objects.create(
            ticket=ticket,
            author_kind=AuthorKind.STAFF if requestor.is_staff else AuthorKind.CUSTOMER,
            author_user_id=requestor.user_id,
            author_email=requestor.email or "",
            body_html=clean.html,
            body_text=clean.text,
            is_internal=internal,
        )
        if not internal:
            if requestor.is_staff:
                record_first_response(ticket, now, settings)
                ticket.staff_public_replies += 1
                # A word after solving (or closing) leaves the ticket resolved;
                # the customer's answer, or staff, reopen it.
                if ticket.status not in RESOLVED:
                    change_status(ticket, TicketStatus.PENDING_CUSTOMER, now, settings)
            elif ticket.status in (TicketStatus.PENDING_CUSTOMER, TicketStatus.SOLVED):
                # The customer's answer to a solved ticket reopens it.
                change_status(ticket, TicketStatus.OPEN, now, settings)
        ticket.save()
        notify_ticket_message(ticket, message, settings)
    return message


def ticket_close(
    *, requestor: Requestor, settings: SupportSettings, ticket: Ticket
) -> Ticket:
    if requestor.is_staff:
        _require_staff(requestor, settings)
    if ticket.status == TicketStatus.CLOSED:
        raise error(
            "ticket", "The ticket is already closed.", SupportErrorCode.INVALID_STATUS
        )
    change_status(ticket, TicketStatus.CLOSED, timezone.now(), settings)
    ticket.save(update_fields=[*STATUS_FIELDS, "updated_at"])
    return ticket


def ticket_reopen(
    *, requestor: Requestor, settings: SupportSettings, ticket: Ticket
) -> Ticket:
    if requestor.is_staff:
        _require_staff(requestor, settings)
    if ticket.status not in (TicketStatus.SOLVED, TicketStatus.CLOSED):
        raise error(
            "ticket",
            "Only solved or closed tickets can be reopened.",
            SupportErrorCode.INVALID_STATUS,
        )
    ended_at = ticket.closed_at or ticket.solved_at or ticket.updated_at
    window = timedelta(days=settings.ticket_reopen_window_days)
    if not requestor.is_staff and timezone.now() - ended_at > window:
        raise error(
            "ticket",
            f"Tickets can be reopened for {settings.ticket_reopen_window_days} days; please open a new one.",
            SupportErrorCode.REOPEN_WINDOW_EXPIRED,
        )
    change_status(ticket, TicketStatus.OPEN, timezone.now(), settings)
    ticket.save(update_fields=[*STATUS_FIELDS, "updated_at"])
    return ticket


def ticket_update(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    ticket: Ticket,
    status: str | None = None,
    priority: str | None = None,
    category: str | None = None,
    tags: list[str] | None = None,
) -> Ticket:
    """Staff change status, priority, category or tags."""
    _require_staff(requestor, settings)
    now = timezone.now()
    if status is not None:
        change_status(ticket, status, now, settings)
    if priority is not None and priority != ticket.priority:
        ticket.priority = priority
        ticket.priority_rank = PRIORITY_RANK[TicketPriority(priority)]
        apply_sla(ticket, settings)
    if category is not None:
        ticket.category = category
    if tags is not None:
        ticket.tags = clean_tags(tags)
    ticket.save()
    return ticket


def ticket_assign(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    ticket: Ticket,
    assignee_user_id: str | None,
    assignee_email: str,
) -> Ticket:
    _require_staff(requestor, settings)
    ticket.assignee_user_id = assignee_user_id
    ticket.assignee_email = assignee_email if assignee_user_id else ""
    ticket.save(update_fields=["assignee_user_id", "assignee_email", "updated_at"])
    return ticket


def ticket_escalate(
    *, requestor: Requestor, settings: SupportSettings, ticket: Ticket, reason: str
) -> Ticket:
    """Move the ticket up one tier; the reason is kept as an internal note."""
    _require_staff(requestor, settings)
    with transaction.atomic():
        ticket.tier += 1
        ticket.save(update_fields=["tier", "updated_at"])
        clean = clean_body(reason)
        TicketMessage.objects.create(
            ticket=ticket,
            author_kind=AuthorKind.SYSTEM,
            author_user_id=requestor.user_id,
            author_email=requestor.email or "",
            body_html=clean.html,
            body_text=f"Escalated to tier {ticket.tier}: {clean.text}",
            is_internal=True,
        )
    return ticket


MACRO_PLACEHOLDERS = (
    "customer_name",
    "order_number",
    "tracking_number",
    "tracking_link",
    "ticket_number",
)


def macro_template(body: str) -> Template:
    """Parse a macro: placeholders only, optionally inside {{#if}} / {{#unless}}."""
    return handlebars.parse(
        body, allowed_roots=MACRO_PLACEHOLDERS, blocks=("if", "unless"), flat=True
    )


def macro_context(ticket: Ticket, settings: SupportSettings) -> dict[str, str]:
    from ..notifications.context import fulfillment_context

    order = ticket.order
    shipment = None
    if order is not None:
        shipment = (
            order.fulfillments.exclude(tracking_number="")
            .order_by("-created_at")
            .first()
        )
    tracking = fulfillment_context(shipment, settings) if shipment is not None else {}
    first_name = order.customer_first_name if order is not None else ""
    return {
        "customer_name": first_name or ticket.customer_email.split("@")[0],
        "order_number": order.number if order is not None else "",
        "tracking_number": tracking.get("tracking_number", ""),
        "tracking_link": tracking.get("tracking_url", ""),
        "ticket_number": str(ticket.number),
    }


def macro_apply(
    *, requestor: Requestor, settings: SupportSettings, ticket: Ticket, macro: Macro
) -> TicketMessage:
    """Post the macro as a public staff reply, filled in for this ticket; set its status if it says so."""
    _require_staff(requestor, settings)
    try:
        template = macro_template(macro.body)
    except TemplateSyntaxError as exc:
        # Saved before macros were limited to placeholders: never run it.
        raise error(
            "macro",
            f"This macro cannot be used: {exc}. Edit its reply first.",
            SupportErrorCode.INVALID,
        ) from None
    # A reply written as HTML gets HTML-escaped values; a plain-text reply gets the
    # values as they are, since ticket_reply escapes plain text itself.
    as_html = "<" in macro.body or ">" in macro.body
    body = template.render(macro_context(ticket, settings), escape=as_html)
    message = ticket_reply(
        requestor=requestor, settings=settings, ticket=ticket, body=body
    )
    if macro.set_status:
        ticket_update(
            requestor=requestor,
            settings=settings,
            ticket=Ticket.objects.get(pk=ticket.pk),
            status=macro.set_status,
        )
    return message


def macro_save(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    macro: Macro | None,
    name: str,
    body: str,
    set_status: str,
) -> Macro:
    _require_staff(requestor, settings)
    name = " ".join((name or "").split())
    if not name:
        raise error("name", "Enter a name.", SupportErrorCode.REQUIRED)
    if len(name) > 100:
        raise error(
            "name", "Keep the name under 100 characters.", SupportErrorCode.TOO_LONG
        )
    if not (body or "").strip():
        raise error("body", "Write the reply.", SupportErrorCode.REQUIRED)
    if len(body) > BODY_MAX_LENGTH:
        raise error(
            "body",
            f"Keep the reply under {BODY_MAX_LENGTH} characters.",
            SupportErrorCode.TOO_LONG,
        )
    try:
        macro_template(body)
    except TemplateSyntaxError as exc:
        raise error(
            "body",
            f"Macros can only fill in the placeholders "
            f"{', '.join('{{' + name + '}}' for name in MACRO_PLACEHOLDERS)} "
            f"(and {{{{#if}}}} / {{{{#unless}}}} around them): {exc}",
            SupportErrorCode.INVALID,
        ) from None
    others = Macro.objects.filter(name__iexact=name)
    if macro is not None:
        others = others.exclude(pk=macro.pk)
    if others.exists():
        raise error("name", "Another macro has this name.", SupportErrorCode.INVALID)
    macro = macro or Macro()
    macro.name, macro.body, macro.set_status = name, body, set_status or ""
    macro.save()
    return macro


MAX_RULE_POSITION = 10_000


def routing_rule_save(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    rule: RoutingRule | None,
    data: dict,
) -> RoutingRule:
    _require_staff(requestor, settings)
    rule = rule or RoutingRule()
    if "name" in data or rule.pk is None:
        name = " ".join((data.get("name") or "").split())
        if not name:
            raise error("name", "Enter a name.", SupportErrorCode.REQUIRED)
        if len(name) > 100:
            raise error(
                "name", "Keep the name under 100 characters.", SupportErrorCode.TOO_LONG
            )
        rule.name = name
    for field in ("categories", "channels", "order_statuses"):
        if data.get(field) is not None:
            setattr(rule, field, list(dict.fromkeys(data[field])))
    if data.get("keywords") is not None:
        keywords = [
            keyword.strip()
            for keyword in data["keywords"]
            if keyword and keyword.strip()
        ]
        if any(len(keyword) > 100 for keyword in keywords):
            raise error(
                "keywords",
                "Keep keywords under 100 characters.",
                SupportErrorCode.TOO_LONG,
            )
        rule.keywords = keywords
    if data.get("add_tags") is not None:
        rule.add_tags = clean_tags(data["add_tags"])
    if data.get("set_priority") is not None:
        rule.set_priority = data["set_priority"]
    if data.get("set_tier") is not None:
        if not 1 <= data["set_tier"] <= 9:
            raise error("setTier", "Tiers go from 1 to 9.", SupportErrorCode.INVALID)
        rule.set_tier = data["set_tier"]
    if data.get("position") is not None:
        if not 0 <= data["position"] <= MAX_RULE_POSITION:
            raise error(
                "position",
                f"Positions go from 0 to {MAX_RULE_POSITION}.",
                SupportErrorCode.INVALID,
            )
        rule.position = data["position"]
    if data.get("is_active") is not None:
        rule.is_active = data["is_active"]
    if "assign_user_id" in data:
        rule.assign_user_id, rule.assign_email = (
            data["assign_user_id"] or "",
            data.get("assign_email") or "",
        )
    rule.save()
    return rule
