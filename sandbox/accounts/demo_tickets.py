"""Demo tickets, a macro and a routing rule, created through the plugin's services."""

from __future__ import annotations

from saleor_support_plugin.auth import requestor_from_user
from saleor_support_plugin.orders.models import OrderSnapshot
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.tickets import services
from saleor_support_plugin.tickets.models import (
    Macro,
    RoutingRule,
    Ticket,
    ticket_reference,
)


def seed_tickets(users: dict[str, object]) -> list[str]:
    settings = load_settings()
    staff = requestor_from_user(users["admin@example.com"])
    alice = requestor_from_user(users["alice@example.com"])
    if not Macro.objects.filter(name="Where is my order").exists():
        services.macro_save(
            requestor=staff,
            settings=settings,
            macro=None,
            name="Where is my order",
            body="Hi {{customer_name}}, order #{{order_number}} is on its way: {{tracking_link}}",
            set_status="solved",
        )
    if not RoutingRule.objects.filter(name="Damaged goods").exists():
        services.routing_rule_save(
            requestor=staff,
            settings=settings,
            rule=None,
            data={
                "name": "Damaged goods",
                "keywords": ["broken", "damaged"],
                "set_priority": "high",
                "add_tags": ["damage"],
            },
        )
    if Ticket.objects.filter(customer_email="alice@example.com").exists():
        return [
            ticket_reference(number)
            for number in Ticket.objects.values_list("number", flat=True)
        ]
    order = OrderSnapshot.objects.filter(number="1001").first()
    where = services.ticket_create(
        requestor=alice,
        settings=settings,
        subject="Where is my order?",
        body="Hi, my trail runners have not arrived yet.",
        order_id=order.order_id if order else None,
        category="order_status",
    )
    damaged = services.ticket_create(
        requestor=alice,
        settings=settings,
        subject="Broken lid",
        body="The lid of the bottle arrived broken.",
        category="return",
    )
    services.ticket_reply(
        requestor=staff,
        settings=settings,
        ticket=damaged,
        body="Sorry! A replacement is on its way.",
    )
    return [where.reference, damaged.reference]
