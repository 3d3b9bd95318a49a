"""The ticket API: each mutation's success, validation errors with codes, permissions."""

from datetime import timedelta

import pytest
from django.utils import timezone
from graphql_relay import to_global_id

from saleor_support_plugin.tickets.guest import NOT_FOUND_MESSAGE
from saleor_support_plugin.tickets.models import Ticket, TicketMessage

from .factories import TicketFactory, TicketMessageFactory
from .fixtures.graphql import get_graphql_content

MUTATION_TICKET_CREATE = """
mutation create($input: SupportTicketCreateInput!) {
  supportTicketCreate(input: $input) {
    ticket { id number subject status category customerEmail order { number } messages { bodyHtml bodyText } }
    errors { field code message }
  }
}
"""

MUTATION_TICKET_REPLY = """
mutation reply($id: ID!, $body: String!) {
  supportTicketReply(id: $id, input: {body: $body}) {
    ticket { status firstRespondedAt }
    message { authorKind bodyText isInternal }
    errors { field code message }
  }
}
"""

MUTATION_NOTE_ADD = """
mutation note($id: ID!, $body: String!) {
  supportTicketNoteAdd(id: $id, input: {body: $body}) {
    message { isInternal }
    errors { field code message }
  }
}
"""

MUTATION_CLOSE = """
mutation close($id: ID!) { supportTicketClose(id: $id) { ticket { status } errors { field code message } } }
"""

MUTATION_REOPEN = """
mutation reopen($id: ID!) {
  supportTicketReopen(id: $id) { ticket { status reopenCount } errors { field code message } }
}
"""

MUTATION_UPDATE = """
mutation update($id: ID!, $input: SupportTicketUpdateInput!) {
  supportTicketUpdate(id: $id, input: $input) {
    ticket { status priority category tags }
    errors { field code message }
  }
}
"""

MUTATION_ASSIGN = """
mutation assign($id: ID!, $assignee: ID) {
  supportTicketAssign(id: $id, assignee: $assignee) { ticket { assignee { email } } errors { field code message } }
}
"""

MUTATION_ESCALATE = """
mutation escalate($id: ID!, $reason: String!) {
  supportTicketEscalate(id: $id, reason: $reason) { ticket { tier } errors { field code message } }
}
"""

MUTATION_GUEST_TOKEN = """
mutation guest($number: String!, $email: String!) {
  supportGuestTokenCreate(orderNumber: $number, email: $email) { token expiresIn errors { field code message } }
}
"""

QUERY_TICKET = """
query ticket($id: ID!) {
  supportTicket(id: $id) { id subject tags tier assignee { email } messages { bodyText isInternal authorEmail } }
}
"""


def tid(ticket) -> str:
    return to_global_id("SupportTicket", str(ticket.pk))


def oid(order) -> str:
    return to_global_id("Order", order.order_id)


def data_of(response, name):
    return get_graphql_content(response)["data"][name]


def create_input(**overrides):
    return {
        "input": {
            "subject": "Where is my parcel?",
            "body": "It has been a week.",
            **overrides,
        }
    }


def test_customer_opens_ticket_about_own_order(
    customer_api_client, alice_order, support_config
):
    # when
    response = customer_api_client.post_graphql(
        MUTATION_TICKET_CREATE,
        create_input(order=oid(alice_order), category="SHIPPING"),
    )
    # then
    result = data_of(response, "supportTicketCreate")
    assert result["errors"] == []
    ticket = result["ticket"]
    assert ticket["status"] == "OPEN"
    assert ticket["category"] == "SHIPPING"
    assert ticket["customerEmail"] == "alice@example.com"
    assert ticket["order"] == {"number": "1042"}
    assert ticket["messages"] == [
        {"bodyHtml": "It has been a week.", "bodyText": "It has been a week."}
    ]
    assert Ticket.objects.get().number >= 1001


def test_ticket_numbers_come_from_a_sequence(customer_api_client, support_config):
    numbers = [
        data_of(
            customer_api_client.post_graphql(MUTATION_TICKET_CREATE, create_input()),
            "supportTicketCreate",
        )["ticket"]["number"]
        for _ in range(3)
    ]
    assert numbers == sorted(numbers)
    assert len(set(numbers)) == 3


def test_message_html_is_sanitized(customer_api_client, support_config):
    body = '<p>Hi <script>alert(1)</script><a href="javascript:x()">me</a> <b>now</b></p><img src=x onerror=y>'
    result = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_CREATE, create_input(body=body)
        ),
        "supportTicketCreate",
    )
    (message,) = result["ticket"]["messages"]
    assert "<script" not in message["bodyHtml"]
    assert "javascript:" not in message["bodyHtml"]
    assert "onerror" not in message["bodyHtml"]
    assert "<b>now</b>" in message["bodyHtml"]
    assert message["bodyText"] == "Hi me now"


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"subject": "   "}, "subject", "REQUIRED"),
        ({"subject": "x" * 201}, "subject", "TOO_LONG"),
        ({"body": ""}, "body", "REQUIRED"),
        ({"body": "<p> </p>"}, "body", "REQUIRED"),
        ({"body": "x" * 20_001}, "body", "TOO_LONG"),
        ({"order": "not-an-id"}, "order", "NOT_FOUND"),
        (
            {"order": to_global_id("Order", "00000000-0000-0000-0000-000000000000")},
            "order",
            "NOT_FOUND",
        ),
    ],
)
def test_create_validation_errors(
    customer_api_client, support_config, overrides, field, code
):
    result = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_CREATE, create_input(**overrides)
        ),
        "supportTicketCreate",
    )
    assert result["ticket"] is None
    assert [(error["field"], error["code"]) for error in result["errors"]] == [
        (field, code)
    ]
    assert not Ticket.objects.exists()


def test_another_customers_order_looks_like_a_missing_one(
    customer_api_client, bob_order, support_config
):
    theirs = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_CREATE, create_input(order=oid(bob_order))
        ),
        "supportTicketCreate",
    )
    missing = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_CREATE,
            create_input(
                order=to_global_id("Order", "5b1f3a52-0000-0000-0000-000000000000")
            ),
        ),
        "supportTicketCreate",
    )
    assert (
        theirs["errors"]
        == missing["errors"]
        == [{"field": "order", "code": "NOT_FOUND", "message": "Order not found."}]
    )


def test_anonymous_cannot_open_tickets(api_client, support_config):
    result = data_of(
        api_client.post_graphql(MUTATION_TICKET_CREATE, create_input()),
        "supportTicketCreate",
    )
    assert result["errors"] == [
        {
            "field": None,
            "code": "PERMISSION_DENIED",
            "message": "You do not have permission to do this.",
        }
    ]


def test_tickets_switched_off(customer_api_client, support_config):
    support_config(tickets_enabled=False)
    result = data_of(
        customer_api_client.post_graphql(MUTATION_TICKET_CREATE, create_input()),
        "supportTicketCreate",
    )
    assert result["errors"][0]["code"] == "FEATURE_DISABLED"


def test_guest_proves_ownership_then_opens_and_reads_a_ticket(
    api_client, guest_order, support_config
):
    # when the guest proves the order is theirs
    result = data_of(
        api_client.post_graphql(
            MUTATION_GUEST_TOKEN, {"number": "#3042", "email": " Guest@Example.com "}
        ),
        "supportGuestTokenCreate",
    )
    assert result["errors"] == []
    assert result["expiresIn"] == 7200
    from .fixtures.tickets import GuestApiClient

    guest = GuestApiClient(result["token"])
    # then they open a ticket about it and read it back
    created = data_of(
        guest.post_graphql(MUTATION_TICKET_CREATE, create_input()),
        "supportTicketCreate",
    )
    assert created["errors"] == []
    assert created["ticket"]["order"] == {"number": "3042"}
    read = data_of(
        guest.post_graphql(QUERY_TICKET, {"id": created["ticket"]["id"]}),
        "supportTicket",
    )
    assert read["subject"] == "Where is my parcel?"


@pytest.mark.parametrize(
    ("number", "email"),
    [("3042", "someone@example.com"), ("9999", "guest@example.com")],
)
def test_wrong_guest_pair_is_indistinguishable_from_missing_order(
    api_client, guest_order, support_config, number, email
):
    result = data_of(
        api_client.post_graphql(
            MUTATION_GUEST_TOKEN, {"number": number, "email": email}
        ),
        "supportGuestTokenCreate",
    )
    assert result["token"] is None
    assert result["errors"] == [
        {
            "field": "orderNumber",
            "code": "NOT_FOUND",
            "message": NOT_FOUND_MESSAGE,
        }
    ]


def test_tampered_guest_token_is_401(guest_api_client, support_config):
    guest_api_client.guest_token = guest_api_client.guest_token[:-3] + "abc"
    assert guest_api_client.post_graphql(QUERY_TICKET, {"id": "x"}).status_code == 401


def test_staff_reply_waits_for_customer_and_customer_reply_reopens(
    customer_api_client, staff_api_client, support_config
):
    ticket = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk),
        customer_email="alice@example.com",
    )
    staff = data_of(
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "On it!"}
        ),
        "supportTicketReply",
    )
    assert staff["errors"] == []
    assert staff["ticket"]["status"] == "PENDING_CUSTOMER"
    assert staff["ticket"]["firstRespondedAt"] is not None
    assert staff["message"] == {
        "authorKind": "STAFF",
        "bodyText": "On it!",
        "isInternal": False,
    }
    customer = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "Thanks"}
        ),
        "supportTicketReply",
    )
    assert customer["ticket"]["status"] == "OPEN"


def test_internal_notes_never_reach_customers(
    customer_api_client, staff_api_client, support_config
):
    ticket = TicketFactory.create(customer_user_id=str(customer_api_client.user.pk))
    TicketMessageFactory.create(ticket=ticket, body_text="Public question")
    note = data_of(
        staff_api_client.post_graphql(
            MUTATION_NOTE_ADD, {"id": tid(ticket), "body": "Customer is VIP"}
        ),
        "supportTicketNoteAdd",
    )
    assert note == {"message": {"isInternal": True}, "errors": []}
    seen_by_customer = data_of(
        customer_api_client.post_graphql(QUERY_TICKET, {"id": tid(ticket)}),
        "supportTicket",
    )
    seen_by_staff = data_of(
        staff_api_client.post_graphql(QUERY_TICKET, {"id": tid(ticket)}),
        "supportTicket",
    )
    assert [m["bodyText"] for m in seen_by_customer["messages"]] == ["Public question"]
    assert [m["bodyText"] for m in seen_by_staff["messages"]] == [
        "Public question",
        "Customer is VIP",
    ]
    listing = get_graphql_content(
        customer_api_client.post_graphql(
            "{ supportTickets(first: 5) { edges { node { lastMessageText } } } }"
        )
    )
    assert (
        listing["data"]["supportTickets"]["edges"][0]["node"]["lastMessageText"]
        == "Public question"
    )


def test_customer_closes_and_reopens_within_the_window(
    customer_api_client, support_config
):
    ticket = TicketFactory.create(customer_user_id=str(customer_api_client.user.pk))
    closed = data_of(
        customer_api_client.post_graphql(MUTATION_CLOSE, {"id": tid(ticket)}),
        "supportTicketClose",
    )
    assert closed == {"ticket": {"status": "CLOSED"}, "errors": []}
    again = data_of(
        customer_api_client.post_graphql(MUTATION_CLOSE, {"id": tid(ticket)}),
        "supportTicketClose",
    )
    assert again["errors"][0]["code"] == "INVALID_STATUS"
    reopened = data_of(
        customer_api_client.post_graphql(MUTATION_REOPEN, {"id": tid(ticket)}),
        "supportTicketReopen",
    )
    assert reopened == {"ticket": {"status": "OPEN", "reopenCount": 1}, "errors": []}
    not_closed = data_of(
        customer_api_client.post_graphql(MUTATION_REOPEN, {"id": tid(ticket)}),
        "supportTicketReopen",
    )
    assert not_closed["errors"][0]["code"] == "INVALID_STATUS"


def test_reopen_after_the_window_is_refused(customer_api_client, support_config):
    support_config(ticket_reopen_window_days="7")
    ticket = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk),
        status="closed",
        closed_at=timezone.now() - timedelta(days=8),
    )
    result = data_of(
        customer_api_client.post_graphql(MUTATION_REOPEN, {"id": tid(ticket)}),
        "supportTicketReopen",
    )
    assert result["errors"] == [
        {
            "field": "ticket",
            "code": "REOPEN_WINDOW_EXPIRED",
            "message": "Tickets can be reopened for 7 days; please open a new one.",
        }
    ]


def test_customer_cannot_reply_to_a_closed_ticket(customer_api_client, support_config):
    ticket = TicketFactory.create(
        customer_user_id=str(customer_api_client.user.pk), status="closed"
    )
    result = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "hey"}
        ),
        "supportTicketReply",
    )
    assert result["errors"][0]["code"] == "INVALID_STATUS"
    assert not TicketMessage.objects.exists()


def test_staff_update_assign_escalate(staff_api_client, staff_user, support_config):
    ticket = TicketFactory.create()
    updated = data_of(
        staff_api_client.post_graphql(
            MUTATION_UPDATE,
            {
                "id": tid(ticket),
                "input": {
                    "status": "ON_HOLD",
                    "priority": "URGENT",
                    "category": "REFUND",
                    "tags": ["VIP", " vip", "late"],
                },
            },
        ),
        "supportTicketUpdate",
    )
    assert updated == {
        "ticket": {
            "status": "ON_HOLD",
            "priority": "URGENT",
            "category": "REFUND",
            "tags": ["vip", "late"],
        },
        "errors": [],
    }
    assigned = data_of(
        staff_api_client.post_graphql(
            MUTATION_ASSIGN,
            {"id": tid(ticket), "assignee": to_global_id("User", staff_user.pk)},
        ),
        "supportTicketAssign",
    )
    assert assigned == {
        "ticket": {"assignee": {"email": "staff@example.com"}},
        "errors": [],
    }
    nobody = data_of(
        staff_api_client.post_graphql(
            MUTATION_ASSIGN,
            {"id": tid(ticket), "assignee": to_global_id("User", 999999)},
        ),
        "supportTicketAssign",
    )
    assert nobody["errors"] == [
        {"field": "assignee", "code": "NOT_FOUND", "message": "Staff member not found."}
    ]
    escalated = data_of(
        staff_api_client.post_graphql(
            MUTATION_ESCALATE, {"id": tid(ticket), "reason": "Needs a refund decision"}
        ),
        "supportTicketEscalate",
    )
    assert escalated == {"ticket": {"tier": 2}, "errors": []}
    note = TicketMessage.objects.get(ticket=ticket)
    assert (note.is_internal, note.body_text) == (
        True,
        "Escalated to tier 2: Needs a refund decision",
    )


def test_too_many_tags_is_invalid(staff_api_client, support_config):
    ticket = TicketFactory.create()
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_UPDATE,
            {"id": tid(ticket), "input": {"tags": [f"t{i}" for i in range(21)]}},
        ),
        "supportTicketUpdate",
    )
    assert result["errors"][0]["field"] == "tags"
    assert result["errors"][0]["code"] == "INVALID"


def test_staff_see_the_full_order_context_in_one_request(
    staff_api_client, alice_order, support_config
):
    from decimal import Decimal

    from saleor_support_plugin.orders.models import (
        FulfillmentSnapshot,
        OrderLineSnapshot,
    )

    alice_order.total_refunded = Decimal("10")
    alice_order.save()
    OrderLineSnapshot.objects.create(
        order=alice_order,
        line_id="l1",
        product_name="Trail Runner",
        variant_name="42",
        sku="TR-42",
        quantity=2,
        quantity_fulfilled=2,
        currency="USD",
        unit_price_gross=Decimal("59.9"),
        undiscounted_unit_price_gross=Decimal("59.9"),
    )
    FulfillmentSnapshot.objects.create(
        order=alice_order,
        fulfillment_id="f1",
        composed_id="1042-1",
        status="fulfilled",
        tracking_number="1Z9",
        carrier_status="in_transit",
        created_at=alice_order.placed_at,
        last_activity_at=alice_order.placed_at,
    )
    ticket = TicketFactory.create(order=alice_order)
    query = """
    query t($id: ID!) { supportTicket(id: $id) { order {
      number total totalRefunded lines { sku quantity quantityFulfilled unitPrice }
      shipments { composedId trackingNumber carrierStatus }
    } } }
    """
    order = data_of(
        staff_api_client.post_graphql(query, {"id": tid(ticket)}), "supportTicket"
    )["order"]
    assert order == {
        "number": "1042",
        "total": "59.90 USD",
        "totalRefunded": "10.00 USD",
        "lines": [
            {
                "sku": "TR-42",
                "quantity": 2,
                "quantityFulfilled": 2,
                "unitPrice": "59.90 USD",
            }
        ],
        "shipments": [
            {
                "composedId": "1042-1",
                "trackingNumber": "1Z9",
                "carrierStatus": "in_transit",
            }
        ],
    }
