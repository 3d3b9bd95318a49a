"""Authorization matrix: every ticket query and mutation × every kind of caller; any leak fails."""

import pytest
from graphql_relay import to_global_id

from .factories import TicketFactory, TicketMessageFactory
from .fixtures.graphql import get_graphql_content
from .test_ticket_api import (
    MUTATION_ASSIGN,
    MUTATION_CLOSE,
    MUTATION_ESCALATE,
    MUTATION_NOTE_ADD,
    MUTATION_REOPEN,
    MUTATION_TICKET_CREATE,
    MUTATION_TICKET_REPLY,
    MUTATION_UPDATE,
    QUERY_TICKET,
    tid,
)

CALLERS = [
    "anonymous",
    "guest",
    "owner",
    "other_customer",
    "staff_without_permission",
    "staff",
]

QUERY_TICKETS = "{ supportTickets(first: 50) { totalCount edges { node { id } } } }"


@pytest.fixture
def callers(
    api_client,
    guest_api_client,
    customer_api_client,
    other_customer_api_client,
    staff_without_permission_api_client,
    staff_api_client,
):
    return dict(
        zip(
            CALLERS,
            [
                api_client,
                guest_api_client,
                customer_api_client,
                other_customer_api_client,
                staff_without_permission_api_client,
                staff_api_client,
            ],
            strict=True,
        )
    )


@pytest.fixture
def owners_ticket(customer_user, alice_order, support_config):
    ticket = TicketFactory.create(
        customer_user_id=str(customer_user.pk),
        customer_email=customer_user.email,
        order=alice_order,
        status="solved",
    )
    TicketMessageFactory.create(ticket=ticket, body_text="secret order details")
    return ticket


def outcome(response, name: str) -> str:
    content = get_graphql_content(response)
    result = content["data"][name]
    if not result["errors"]:
        return "ok"
    (error,) = result["errors"]
    return {"NOT_FOUND": "not_found", "PERMISSION_DENIED": "denied"}[error["code"]]


MUTATIONS = {
    "reply": (
        MUTATION_TICKET_REPLY,
        "supportTicketReply",
        lambda t: {"id": tid(t), "body": "hello"},
    ),
    "note_add": (
        MUTATION_NOTE_ADD,
        "supportTicketNoteAdd",
        lambda t: {"id": tid(t), "body": "note"},
    ),
    "close": (MUTATION_CLOSE, "supportTicketClose", lambda t: {"id": tid(t)}),
    "reopen": (MUTATION_REOPEN, "supportTicketReopen", lambda t: {"id": tid(t)}),
    "update": (
        MUTATION_UPDATE,
        "supportTicketUpdate",
        lambda t: {"id": tid(t), "input": {"priority": "HIGH"}},
    ),
    "assign": (
        MUTATION_ASSIGN,
        "supportTicketAssign",
        lambda t: {"id": tid(t), "assignee": None},
    ),
    "escalate": (
        MUTATION_ESCALATE,
        "supportTicketEscalate",
        lambda t: {"id": tid(t), "reason": "why"},
    ),
}

# Another customer's ticket answers exactly like a missing one ("not_found").
EXPECTED = {
    #            anonymous    guest        owner     other_cust   staff_no_perm  staff
    "reply": ["not_found", "not_found", "ok", "not_found", "not_found", "ok"],
    "note_add": ["not_found", "not_found", "denied", "not_found", "not_found", "ok"],
    "close": ["not_found", "not_found", "ok", "not_found", "not_found", "ok"],
    "reopen": ["not_found", "not_found", "ok", "not_found", "not_found", "ok"],
    "update": ["not_found", "not_found", "denied", "not_found", "not_found", "ok"],
    "assign": ["not_found", "not_found", "denied", "not_found", "not_found", "ok"],
    "escalate": ["not_found", "not_found", "denied", "not_found", "not_found", "ok"],
    "macro_apply": ["not_found", "not_found", "denied", "not_found", "not_found", "ok"],
}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_mutation_matrix(callers, owners_ticket, caller, mutation):
    query, name, variables = MUTATIONS[mutation]
    before = (
        owners_ticket.messages.count(),
        owners_ticket.priority,
        owners_ticket.tier,
        owners_ticket.status,
    )
    result = outcome(
        callers[caller].post_graphql(query, variables(owners_ticket)), name
    )
    assert result == EXPECTED[mutation][CALLERS.index(caller)]
    if result != "ok":
        owners_ticket.refresh_from_db()
        after = (
            owners_ticket.messages.count(),
            owners_ticket.priority,
            owners_ticket.tier,
            owners_ticket.status,
        )
        assert after == before  # a refused call changes nothing


@pytest.mark.parametrize(
    ("caller", "visible"),
    list(zip(CALLERS, [False, False, True, False, False, True], strict=True)),
)
def test_ticket_query_matrix(callers, owners_ticket, caller, visible):
    content = get_graphql_content(
        callers[caller].post_graphql(QUERY_TICKET, {"id": tid(owners_ticket)})
    )
    ticket = content["data"]["supportTicket"]
    if visible:
        assert ticket["subject"] == owners_ticket.subject
    else:
        assert ticket is None
        missing = get_graphql_content(
            callers[caller].post_graphql(
                QUERY_TICKET,
                {
                    "id": to_global_id(
                        "SupportTicket", "5f0c3c52-6a55-4b52-9a8e-2f6f3f1c1a10"
                    )
                },
            )
        )
        assert content == missing  # indistinguishable from a ticket that does not exist


@pytest.mark.parametrize(
    ("caller", "count"),
    list(zip(CALLERS, [0, 1, 1, 0, 0, 2], strict=True)),
)
def test_ticket_list_matrix(callers, owners_ticket, guest_order, caller, count):
    TicketFactory.create(order=guest_order, customer_email=guest_order.customer_email)
    content = get_graphql_content(callers[caller].post_graphql(QUERY_TICKETS))
    assert content["data"]["supportTickets"]["totalCount"] == count
    if caller in ("owner", "other_customer", "anonymous", "staff_without_permission"):
        ids = [
            edge["node"]["id"] for edge in content["data"]["supportTickets"]["edges"]
        ]
        assert (tid(owners_ticket) in ids) == (caller == "owner")


@pytest.mark.parametrize(
    ("caller", "expected"),
    list(
        zip(CALLERS, ["denied", "ok", "ok", "not_found", "denied", "ok"], strict=True)
    ),
)
def test_create_about_the_owners_order_matrix(
    callers, alice_order, support_config, caller, expected
):
    variables = {
        "input": {
            "subject": "About order",
            "body": "Hi",
            "order": to_global_id("Order", alice_order.order_id),
        }
    }
    if caller == "guest":
        variables["input"].pop("order")  # a guest's ticket is about their own order
    assert (
        outcome(
            callers[caller].post_graphql(MUTATION_TICKET_CREATE, variables),
            "supportTicketCreate",
        )
        == expected
    )


def test_staff_only_fields_are_hidden_from_customers(
    callers, owners_ticket, staff_user
):
    owners_ticket.tags = ["vip"]
    owners_ticket.assignee_user_id, owners_ticket.assignee_email = (
        str(staff_user.pk),
        staff_user.email,
    )
    owners_ticket.save()
    TicketMessageFactory.create(
        ticket=owners_ticket, author_kind="staff", author_email="agent@shop.example"
    )
    seen = get_graphql_content(
        callers["owner"].post_graphql(QUERY_TICKET, {"id": tid(owners_ticket)})
    )
    ticket = seen["data"]["supportTicket"]
    assert (ticket["tags"], ticket["tier"], ticket["assignee"]) == ([], None, None)
    assert [m["authorEmail"] for m in ticket["messages"]] == [None, None]
    staff_view = get_graphql_content(
        callers["staff"].post_graphql(QUERY_TICKET, {"id": tid(owners_ticket)})
    )
    assert staff_view["data"]["supportTicket"]["tags"] == ["vip"]


def test_staff_only_filters_are_refused_for_customers(callers, owners_ticket):
    response = callers["owner"].post_graphql(
        '{ supportTickets(first: 5, filter: {tag: "vip"}) { totalCount } }'
    )
    content = get_graphql_content(response, ignore_errors=True)
    assert (
        content["errors"][0]["message"]
        == "Filtering by assignee, tag, customer or SLA is for staff."
    )
