"""Ticket reads, always through what the requestor may see."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.postgres.search import SearchQuery, SearchVector
from django.db.models import Case, F, OuterRef, Q, QuerySet, Subquery, Value, When
from django.utils import timezone

from ..auth import Requestor
from ..conf import SupportSettings
from ..core.errors import SupportErrorCode, error
from .models import Ticket, TicketMessage
from .sla import DONE_STATUSES, sla_breached_q

TICKET_REFERENCE = re.compile(r"^T-?(\d{1,18})$", re.IGNORECASE)


def visible_tickets(
    requestor: Requestor, settings: SupportSettings
) -> QuerySet[Ticket]:
    """Tickets the requestor may see; staff without the permission see none."""
    tickets = Ticket.objects.all()
    if requestor.is_staff and requestor.has_perm(settings.staff_permission):
        return tickets
    if requestor.is_guest and requestor.guest_ticket_id:
        return tickets.filter(
            pk=requestor.guest_ticket_id, customer_email=requestor.email
        )
    if requestor.is_guest:
        # Only orders placed without an account: tokens minted before that
        # rule was enforced must not open an account's tickets either.
        return tickets.filter(
            Q(order__user_id__isnull=True) | Q(order__user_id=""),
            order__order_id=requestor.guest_order_id,
            customer_email=requestor.email,
        )
    if requestor.user_id is not None and not requestor.is_staff:
        return tickets.filter(customer_user_id=requestor.user_id)
    return tickets.none()


def access_ticket(
    requestor: Requestor, settings: SupportSettings, ticket_id: str | None
) -> Ticket:
    """Return the ticket; NOT_FOUND alike for a missing ticket and someone else's."""
    ticket = (
        visible_tickets(requestor, settings).filter(pk=ticket_id).first()
        if ticket_id
        else None
    )
    if ticket is None:
        raise error("id", "Ticket not found.", SupportErrorCode.NOT_FOUND)
    return ticket


def visible_messages(
    requestor: Requestor, settings: SupportSettings, ticket: Ticket
) -> QuerySet[TicketMessage]:
    messages = ticket.messages.all()
    if not (requestor.is_staff and requestor.has_perm(settings.staff_permission)):
        messages = messages.filter(is_internal=False)
    return messages


@dataclass(frozen=True)
class TicketFilter:
    statuses: list[str] | None = None
    priorities: list[str] | None = None
    categories: list[str] | None = None
    channels: list[str] | None = None
    assignee_user_id: str | None = None
    unassigned: bool | None = None
    tag: str | None = None
    order_number: str | None = None
    customer_email: str | None = None
    search: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    sla_breached: bool | None = None
    sla_due_within_hours: int | None = None


SORT_FIELDS = {
    "CREATED_AT": ("created_at",),
    "UPDATED_AT": ("updated_at",),
    "PRIORITY": ("priority_rank", "created_at"),
    "NUMBER": ("number",),
    "SLA_DUE": ("next_due_at",),
}


def _next_due() -> Case:
    return Case(
        When(status__in=DONE_STATUSES, then=Value(None)),
        When(first_responded_at__isnull=True, then=F("first_response_due_at")),
        default=F("resolution_due_at"),
    )


def filter_tickets(
    tickets: QuerySet[Ticket], spec: TicketFilter, *, include_internal: bool
) -> QuerySet[Ticket]:
    """Apply the filter; `search` matches only messages the caller can read."""
    if spec.statuses:
        tickets = tickets.filter(status__in=spec.statuses)
    if spec.priorities:
        tickets = tickets.filter(priority__in=spec.priorities)
    if spec.categories:
        tickets = tickets.filter(category__in=spec.categories)
    if spec.channels:
        tickets = tickets.filter(channel__in=spec.channels)
    if spec.assignee_user_id:
        tickets = tickets.filter(assignee_user_id=spec.assignee_user_id)
    if spec.unassigned is not None:
        tickets = tickets.filter(assignee_user_id__isnull=spec.unassigned)
    if spec.tag:
        tickets = tickets.filter(tags__contains=[spec.tag.lower()])
    if spec.order_number:
        tickets = tickets.filter(order__number=spec.order_number.lstrip("#"))
    if spec.customer_email:
        tickets = tickets.filter(customer_email__iexact=spec.customer_email)
    if spec.created_after:
        tickets = tickets.filter(created_at__gte=spec.created_after)
    if spec.created_before:
        tickets = tickets.filter(created_at__lt=spec.created_before)
    if spec.sla_breached is not None:
        tickets = (
            tickets.filter(sla_breached_q())
            if spec.sla_breached
            else tickets.exclude(sla_breached_q())
        )
    if spec.sla_due_within_hours is not None:
        horizon = timezone.now() + timedelta(hours=spec.sla_due_within_hours)
        tickets = tickets.annotate(next_due_at=_next_due()).filter(
            next_due_at__lte=horizon
        )
    if spec.search and spec.search.strip():
        # Full-text search on words (GIN-indexed), as support agents search.
        query = SearchQuery(spec.search.strip(), config="simple", search_type="plain")
        readable = (
            TicketMessage.objects.all()
            if include_internal
            else TicketMessage.objects.filter(is_internal=False)
        )
        matching_messages = (
            readable.annotate(document=SearchVector("body_text", config="simple"))
            .filter(document=query)
            .values("ticket_id")
        )
        found = Q(subject_document=query) | Q(pk__in=matching_messages)
        reference = TICKET_REFERENCE.match(spec.search.strip())
        if reference:
            # An agent pasting "T-1042" from an email means that ticket.
            found |= Q(number=int(reference.group(1)))
        tickets = tickets.annotate(
            subject_document=SearchVector("subject", config="simple")
        ).filter(found)
    return tickets


def sort_tickets(
    tickets: QuerySet[Ticket], field: str, descending: bool
) -> QuerySet[Ticket]:
    if field == "SLA_DUE":
        # Tickets with nothing due sort last either way.
        due = F("next_due_at")
        order = due.desc(nulls_last=True) if descending else due.asc(nulls_last=True)
        return tickets.annotate(next_due_at=_next_due()).order_by(order, "number")
    columns = SORT_FIELDS[field]
    prefix = "-" if descending else ""
    return tickets.order_by(
        *(f"{prefix}{column}" for column in columns), f"{prefix}number"
    )


def with_list_data(
    tickets: QuerySet[Ticket], *, include_internal: bool
) -> QuerySet[Ticket]:
    """Everything a list row shows, in the same query: order, last message."""
    last = TicketMessage.objects.filter(ticket=OuterRef("pk"))
    if not include_internal:
        last = last.filter(is_internal=False)
    last = last.order_by("-created_at")
    return tickets.select_related("order").annotate(
        last_message_text=Subquery(last.values("body_text")[:1]),
        last_message_at=Subquery(last.values("created_at")[:1]),
        last_message_author_kind=Subquery(last.values("author_kind")[:1]),
    )
