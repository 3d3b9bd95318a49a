"""SLA: due times in business hours by priority, and breaches reported once each."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q

from ..conf import SupportSettings
from ..core.calendar import BusinessCalendar
from ..notifications.identity import message_id_domain, ticket_thread_id
from ..notifications.kinds import NotificationKind
from ..notifications.services import create_ticket_notification
from .models import Ticket, TicketStatus

DONE_STATUSES = (TicketStatus.SOLVED, TicketStatus.CLOSED)


def apply_sla(ticket: Ticket, settings: SupportSettings) -> None:
    """Set due times from when the ticket was opened and its priority (not saved)."""
    calendar = BusinessCalendar.from_settings(settings)
    first_response, resolution = settings.sla_targets(ticket.priority)
    ticket.first_response_due_at = calendar.add_business_hours(
        ticket.created_at, first_response
    )
    ticket.resolution_due_at = calendar.add_business_hours(
        ticket.created_at, resolution
    )


def _breach_context(ticket: Ticket, what: str, due: datetime) -> dict:
    return {
        "ticket": {
            "number": ticket.number,
            "reference": ticket.reference,
            "subject": ticket.subject,
            "status": ticket.status,
            "priority": ticket.priority,
        },
        "breach": {"target": what, "due_at": due.isoformat(timespec="minutes")},
        "customer_email": ticket.customer_email,
        "order": {"number": ticket.order.number} if ticket.order is not None else {},
    }


def check_sla_breaches(
    *, now: datetime, settings: SupportSettings
) -> list[tuple[int, str]]:
    """Mark tickets past a target and tell the assignee (or the team), once per breach."""
    breached: list[tuple[int, str]] = []
    open_tickets = Ticket.objects.exclude(status__in=DONE_STATUSES)
    first = open_tickets.filter(
        first_responded_at__isnull=True,
        first_response_due_at__lt=now,
        first_response_breached_at__isnull=True,
    )
    resolution = open_tickets.filter(
        resolution_due_at__lt=now, resolution_breached_at__isnull=True
    )
    for what, candidates, field in (
        ("first response", first, "first_response_breached_at"),
        ("resolution", resolution, "resolution_breached_at"),
    ):
        for pk in candidates.values_list("pk", flat=True)[:1000]:
            with transaction.atomic():
                ticket = (
                    Ticket.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("order")
                    .filter(pk=pk)
                    .filter(**{f"{field}__isnull": True})
                    .first()
                )
                if ticket is None:
                    continue
                setattr(ticket, field, now)
                ticket.save(update_fields=[field])
                due = (
                    ticket.first_response_due_at
                    if what == "first response"
                    else ticket.resolution_due_at
                )
                assert due is not None
                recipients = (
                    [ticket.assignee_email]
                    if ticket.assignee_email
                    else list(settings.support_staff_addresses)
                )
                create_ticket_notification(
                    kind=NotificationKind.TICKET_SLA_BREACH,
                    key=f"sla:{ticket.pk}:{field}",
                    recipients=recipients,
                    context=_breach_context(ticket, what, due),
                    order_id=ticket.order.order_id
                    if ticket.order is not None
                    else None,
                    language_code="en",
                    settings=settings,
                    references=[
                        ticket_thread_id(ticket.pk, message_id_domain(settings))
                    ],
                )
                breached.append((ticket.number, what))
    return breached


def sla_breached_q() -> Q:
    return Q(first_response_breached_at__isnull=False) | Q(
        resolution_breached_at__isnull=False
    )
