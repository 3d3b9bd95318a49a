"""Routing on creation: rules set priority, tier, assignee and tags; then least-loaded auto-assignment."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import Count, Q

from ..conf import SupportSettings
from .models import PRIORITY_RANK, RoutingRule, Ticket, TicketPriority, TicketStatus

OPEN_STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER, TicketStatus.ON_HOLD)


def rule_matches(rule: RoutingRule, ticket: Ticket, text: str) -> bool:
    if rule.categories and ticket.category not in rule.categories:
        return False
    if rule.channels and ticket.channel not in rule.channels:
        return False
    if rule.order_statuses and (
        ticket.order is None or ticket.order.status not in rule.order_statuses
    ):
        return False
    haystack = f"{ticket.subject}\n{text}".lower()
    return not rule.keywords or any(
        keyword.lower() in haystack for keyword in rule.keywords
    )


def route_ticket(ticket: Ticket, text: str, settings: SupportSettings) -> list[str]:
    """Apply matching rules in order (later rules win on single values); return their names."""
    applied = []
    for rule in RoutingRule.objects.filter(is_active=True):
        if not rule_matches(rule, ticket, text):
            continue
        applied.append(rule.name)
        if rule.set_priority:
            ticket.priority = rule.set_priority
            ticket.priority_rank = PRIORITY_RANK[TicketPriority(rule.set_priority)]
        if rule.set_tier:
            ticket.tier = rule.set_tier
        if rule.assign_user_id:
            ticket.assignee_user_id, ticket.assignee_email = (
                rule.assign_user_id,
                rule.assign_email,
            )
        if rule.add_tags:
            ticket.tags = list(dict.fromkeys([*ticket.tags, *rule.add_tags]))
    if not ticket.assignee_user_id and settings.auto_assign_staff:
        assign_least_loaded(ticket, settings.auto_assign_staff)
    return applied


def assign_least_loaded(ticket: Ticket, emails: tuple[str, ...]) -> None:
    staff = list(
        get_user_model()
        .objects.filter(email__in=emails, is_staff=True, is_active=True)
        .values_list("pk", "email")
    )
    if not staff:
        return
    ids = [str(pk) for pk, _ in staff]
    loads = dict(
        Ticket.objects.filter(assignee_user_id__in=ids, status__in=OPEN_STATUSES)
        .values_list("assignee_user_id")
        .annotate(open=Count("pk", filter=Q(status__in=OPEN_STATUSES)))
    )
    # Fewest open tickets; ties go to the order of the setting.
    order = {email.lower(): index for index, email in enumerate(emails)}
    pk, email = min(
        staff,
        key=lambda item: (loads.get(str(item[0]), 0), order.get(item[1].lower(), 0)),
    )
    ticket.assignee_user_id, ticket.assignee_email = str(pk), email
