"""Support tickets inside a real Saleor 3.24: Saleor JWTs, Saleor orders, guest tokens.

Orders reach the plugin the way they do in production: Saleor calls the plugin's
`order_created` hook, the plugin's eager Celery task builds its order snapshot,
and only then can a ticket be about that order.
"""

import pytest

pytest.importorskip(
    "saleor",
    reason=(
        "Saleor is not installed: the Saleor suite runs only in a Saleor environment"
    ),
)

import graphene  # noqa: E402
from saleor.core.jwt import create_access_token  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402

from saleor_support_plugin.orders.models import OrderSnapshot  # noqa: E402
from saleor_support_plugin.tickets.models import Ticket, TicketMessage  # noqa: E402

MUTATION_TICKET_CREATE = """
mutation create($input: SupportTicketCreateInput!) {
  supportTicketCreate(input: $input) {
    ticket {
      id number subject status customerEmail
      order { id number }
      messages { authorKind bodyText }
    }
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

MUTATION_GUEST_TOKEN = """
mutation guest($number: String!, $email: String!) {
  supportGuestTokenCreate(orderNumber: $number, email: $email) {
    token expiresIn
    errors { field code message }
  }
}
"""

QUERY_TICKET = """
query ticket($id: ID!) {
  supportTicket(id: $id) {
    id subject customerEmail
    order { number }
    messages { authorKind bodyText }
  }
}
"""

QUERY_TICKETS = """
query {
  supportTickets(first: 10) {
    totalCount
    edges { node { id subject order { number } } }
  }
}
"""

GUEST_EMAIL = "guest.buyer@example.com"


def order_global_id(order) -> str:
    return graphene.Node.to_global_id("Order", order.pk)


def ticket_input(order=None) -> dict:
    data = {"subject": "Where is my parcel?", "body": "It has been a week."}
    if order is not None:
        data["order"] = order_global_id(order)
    return {"input": data}


def data_of(response, name: str) -> dict:
    assert response.status_code == 200, response.content
    return get_graphql_content(response)["data"][name]


def error_codes(result: dict) -> list[tuple[str | None, str]]:
    return [(error["field"], error["code"]) for error in result["errors"]]


@pytest.fixture
def customer_order(order_with_lines, snapshot_saleor_order):
    """Return a Saleor order of `customer_user` that the plugin was told about."""
    snapshot_saleor_order(order_with_lines)
    return order_with_lines


@pytest.fixture
def customers_ticket(customer_order, customer_user, post_plugin_graphql) -> str:
    """Global ID of a ticket `customer_user` opened about their order."""
    result = data_of(
        post_plugin_graphql(
            MUTATION_TICKET_CREATE,
            token=create_access_token(customer_user),
            variables=ticket_input(customer_order),
        ),
        "supportTicketCreate",
    )
    assert result["errors"] == []
    return result["ticket"]["id"]


@pytest.fixture
def guest_order(order_with_lines):
    """Return a Saleor order placed without an account (only an email)."""
    order_with_lines.user = None
    order_with_lines.user_email = GUEST_EMAIL
    order_with_lines.save(update_fields=["user", "user_email"])
    return order_with_lines


@pytest.fixture
def order_staff_token(staff_users, permission_group_manage_orders):
    """JWT of a staff member with MANAGE_ORDERS through a Saleor permission group.

    Saleor's fixture puts `staff_users[1]` into the group; the token carries the
    permissions the user has when it is created.
    """
    staff = staff_users[1]
    assert staff.has_perm("order.manage_orders")
    return create_access_token(staff)


@pytest.fixture
def staff_without_permission_token(staff_user):
    assert staff_user.is_staff
    assert not staff_user.has_perm("order.manage_orders")
    return create_access_token(staff_user)


def test_customer_opens_a_ticket_about_their_saleor_order(
    support_plugin,
    order_with_lines,
    customer_user,
    snapshot_saleor_order,
    post_plugin_graphql,
):
    # given a customer's Saleor order, reported to the plugin by Saleor's hook
    order = order_with_lines
    assert order.user == customer_user
    snapshot = snapshot_saleor_order(order)
    assert snapshot.number == str(order.number)
    assert snapshot.user_id == str(customer_user.pk)

    # when the customer opens a ticket about it with their Saleor JWT
    response = post_plugin_graphql(
        MUTATION_TICKET_CREATE,
        token=create_access_token(customer_user),
        variables=ticket_input(order),
    )

    # then
    result = data_of(response, "supportTicketCreate")
    assert result["errors"] == []
    ticket = result["ticket"]
    assert ticket["order"] == {
        "id": order_global_id(order),
        "number": str(order.number),
    }
    assert ticket["status"] == "OPEN"
    assert ticket["customerEmail"] == customer_user.email
    assert ticket["messages"] == [
        {"authorKind": "CUSTOMER", "bodyText": "It has been a week."}
    ]
    stored = Ticket.objects.get()
    assert stored.customer_user_id == str(customer_user.pk)
    assert stored.order == snapshot


def test_order_the_plugin_was_not_told_about_is_not_found(
    support_plugin, order_with_lines, customer_user, post_plugin_graphql
):
    # given a customer's Saleor order for which no hook ran
    assert not OrderSnapshot.objects.exists()

    # when
    response = post_plugin_graphql(
        MUTATION_TICKET_CREATE,
        token=create_access_token(customer_user),
        variables=ticket_input(order_with_lines),
    )

    # then
    result = data_of(response, "supportTicketCreate")
    assert result["ticket"] is None
    assert error_codes(result) == [("order", "NOT_FOUND")]
    assert not Ticket.objects.exists()


def test_another_customer_can_neither_see_nor_answer_the_ticket(
    customers_ticket, customer_user2, post_plugin_graphql
):
    # given another Saleor customer
    token = create_access_token(customer_user2)
    messages = TicketMessage.objects.count()

    # when they look for the ticket
    ticket = data_of(
        post_plugin_graphql(
            QUERY_TICKET, token=token, variables={"id": customers_ticket}
        ),
        "supportTicket",
    )
    tickets = data_of(post_plugin_graphql(QUERY_TICKETS, token=token), "supportTickets")

    # then it is not there
    assert ticket is None
    assert tickets == {"totalCount": 0, "edges": []}

    # when they reply to it
    reply = data_of(
        post_plugin_graphql(
            MUTATION_TICKET_REPLY,
            token=token,
            variables={"id": customers_ticket, "body": "Let me in"},
        ),
        "supportTicketReply",
    )

    # then it answers as a missing ticket and nothing is written
    assert reply["ticket"] is None
    assert error_codes(reply) == [("id", "NOT_FOUND")]
    assert TicketMessage.objects.count() == messages


def test_another_customer_cannot_open_a_ticket_about_the_order(
    customer_order, customer_user2, post_plugin_graphql
):
    # when another Saleor customer opens a ticket about the first one's order
    result = data_of(
        post_plugin_graphql(
            MUTATION_TICKET_CREATE,
            token=create_access_token(customer_user2),
            variables=ticket_input(customer_order),
        ),
        "supportTicketCreate",
    )

    # then the order answers as a missing one
    assert result["ticket"] is None
    assert result["errors"] == [
        {"field": "order", "code": "NOT_FOUND", "message": "Order not found."}
    ]
    assert not Ticket.objects.exists()


def test_staff_with_manage_orders_list_and_answer_the_ticket(
    customers_ticket, customer_order, order_staff_token, post_plugin_graphql
):
    # when order staff list the tickets
    tickets = data_of(
        post_plugin_graphql(QUERY_TICKETS, token=order_staff_token), "supportTickets"
    )

    # then they see the customer's ticket and its order
    assert tickets["totalCount"] == 1
    (edge,) = tickets["edges"]
    assert edge["node"] == {
        "id": customers_ticket,
        "subject": "Where is my parcel?",
        "order": {"number": str(customer_order.number)},
    }

    # when they answer it
    reply = data_of(
        post_plugin_graphql(
            MUTATION_TICKET_REPLY,
            token=order_staff_token,
            variables={"id": customers_ticket, "body": "It left our warehouse."},
        ),
        "supportTicketReply",
    )

    # then the ticket waits for the customer
    assert reply["errors"] == []
    assert reply["ticket"]["status"] == "PENDING_CUSTOMER"
    assert reply["ticket"]["firstRespondedAt"] is not None
    assert reply["message"] == {
        "authorKind": "STAFF",
        "bodyText": "It left our warehouse.",
        "isInternal": False,
    }


def test_customer_reads_the_staff_answer(
    customers_ticket, customer_user, order_staff_token, post_plugin_graphql
):
    # given order staff answered the ticket
    data_of(
        post_plugin_graphql(
            MUTATION_TICKET_REPLY,
            token=order_staff_token,
            variables={"id": customers_ticket, "body": "It left our warehouse."},
        ),
        "supportTicketReply",
    )

    # when the customer reads their ticket
    ticket = data_of(
        post_plugin_graphql(
            QUERY_TICKET,
            token=create_access_token(customer_user),
            variables={"id": customers_ticket},
        ),
        "supportTicket",
    )

    # then
    assert [message["authorKind"] for message in ticket["messages"]] == [
        "CUSTOMER",
        "STAFF",
    ]
    assert ticket["messages"][1]["bodyText"] == "It left our warehouse."


def test_staff_without_manage_orders_see_and_do_nothing(
    customers_ticket,
    customer_order,
    staff_without_permission_token,
    post_plugin_graphql,
):
    # given
    token = staff_without_permission_token
    messages = TicketMessage.objects.count()

    # when staff without MANAGE_ORDERS look for the ticket
    ticket = data_of(
        post_plugin_graphql(
            QUERY_TICKET, token=token, variables={"id": customers_ticket}
        ),
        "supportTicket",
    )
    tickets = data_of(post_plugin_graphql(QUERY_TICKETS, token=token), "supportTickets")

    # then they see nothing
    assert ticket is None
    assert tickets == {"totalCount": 0, "edges": []}

    # when they reply to it or open a ticket about the order
    reply = data_of(
        post_plugin_graphql(
            MUTATION_TICKET_REPLY,
            token=token,
            variables={"id": customers_ticket, "body": "Hello"},
        ),
        "supportTicketReply",
    )
    created = data_of(
        post_plugin_graphql(
            MUTATION_TICKET_CREATE, token=token, variables=ticket_input(customer_order)
        ),
        "supportTicketCreate",
    )

    # then the ticket answers as a missing one and opening one is denied
    assert error_codes(reply) == [("id", "NOT_FOUND")]
    assert error_codes(created) == [(None, "PERMISSION_DENIED")]
    assert created["ticket"] is None
    assert Ticket.objects.count() == 1
    assert TicketMessage.objects.count() == messages


def test_guest_opens_a_ticket_about_their_saleor_order(
    guest_order,
    snapshot_saleor_order,
    post_plugin_graphql,
    post_plugin_graphql_as_guest,
):
    # given a Saleor order placed without an account, reported to the plugin
    order = guest_order
    snapshot = snapshot_saleor_order(order)
    assert (snapshot.user_id, snapshot.customer_email) == (None, GUEST_EMAIL)

    # when the guest proves the order is theirs with its number and email
    result = data_of(
        post_plugin_graphql(
            MUTATION_GUEST_TOKEN,
            variables={"number": f"#{order.number}", "email": GUEST_EMAIL.upper()},
        ),
        "supportGuestTokenCreate",
    )

    # then they get a guest token
    assert result["errors"] == []
    assert result["expiresIn"] == 7200
    guest_token = result["token"]
    assert guest_token

    # when they open a ticket with it (no Saleor JWT)
    created = data_of(
        post_plugin_graphql_as_guest(
            MUTATION_TICKET_CREATE, guest_token, variables=ticket_input()
        ),
        "supportTicketCreate",
    )

    # then the ticket is about that order, and theirs to read
    assert created["errors"] == []
    ticket = created["ticket"]
    assert ticket["order"] == {
        "id": order_global_id(order),
        "number": str(order.number),
    }
    assert ticket["customerEmail"] == GUEST_EMAIL
    read = data_of(
        post_plugin_graphql_as_guest(
            QUERY_TICKET, guest_token, variables={"id": ticket["id"]}
        ),
        "supportTicket",
    )
    assert read["subject"] == "Where is my parcel?"
    assert read["order"] == {"number": str(order.number)}
    stored = Ticket.objects.get()
    assert (stored.customer_user_id, stored.order) == (None, snapshot)


def test_guest_token_needs_the_orders_email(
    guest_order, snapshot_saleor_order, post_plugin_graphql
):
    # given a guest's Saleor order known to the plugin
    order = guest_order
    snapshot_saleor_order(order)

    # when someone asks for a token with another email
    result = data_of(
        post_plugin_graphql(
            MUTATION_GUEST_TOKEN,
            variables={"number": str(order.number), "email": "someone@example.com"},
        ),
        "supportGuestTokenCreate",
    )

    # then no token is given
    assert result["token"] is None
    assert error_codes(result) == [("orderNumber", "NOT_FOUND")]
