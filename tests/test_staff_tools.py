"""Routing rules and auto-assignment on creation; macros managed and applied by staff."""

import pytest
from graphql_relay import to_global_id

from saleor_support_plugin.orders.models import FulfillmentSnapshot
from saleor_support_plugin.tickets.models import Macro, RoutingRule, Ticket

from .factories import TicketFactory
from .fixtures.graphql import get_graphql_content
from .test_ticket_api import MUTATION_TICKET_CREATE, create_input, data_of, oid, tid

MUTATION_RULE_CREATE = """
mutation rule($input: SupportRoutingRuleInput!) {
  supportRoutingRuleCreate(input: $input) {
    rule { id name keywords setPriority assigneeEmail addTags }
    errors { field code message }
  }
}
"""

MUTATION_MACRO_CREATE = """
mutation macro($input: SupportMacroInput!) {
  supportMacroCreate(input: $input) { macro { id name setStatus } errors { field code message } }
}
"""

MUTATION_MACRO_APPLY = """
mutation apply($id: ID!, $macro: ID!) {
  supportTicketMacroApply(id: $id, macro: $macro) {
    ticket { status }
    message { bodyText authorKind }
    errors { field code message }
  }
}
"""


def create_ticket(client, **overrides):
    result = data_of(
        client.post_graphql(MUTATION_TICKET_CREATE, create_input(**overrides)),
        "supportTicketCreate",
    )
    assert result["errors"] == []
    return Ticket.objects.get(number=result["ticket"]["number"])


def test_routing_rules_apply_on_creation_in_order(
    customer_api_client, staff_api_client, staff_user, alice_order, support_config
):
    # given two rules managed through the API
    first = data_of(
        staff_api_client.post_graphql(
            MUTATION_RULE_CREATE,
            {
                "input": {
                    "name": "Damaged goods",
                    "position": 1,
                    "keywords": ["broken", "damaged"],
                    "setPriority": "HIGH",
                    "addTags": ["damage"],
                }
            },
        ),
        "supportRoutingRuleCreate",
    )
    assert first["errors"] == []
    assert first["rule"]["setPriority"] == "HIGH"
    staff_api_client.post_graphql(
        MUTATION_RULE_CREATE,
        {
            "input": {
                "name": "Refunds to lead",
                "position": 2,
                "categories": ["REFUND"],
                "setPriority": "URGENT",
                "assignee": to_global_id("User", staff_user.pk),
                "addTags": ["money"],
            }
        },
    )
    # when customers open tickets
    damaged = create_ticket(customer_api_client, body="The mug arrived BROKEN.")
    refund = create_ticket(
        customer_api_client,
        body="Broken again, I want my money back",
        category="REFUND",
    )
    plain = create_ticket(customer_api_client, body="Just a question")
    # then
    assert (damaged.priority, damaged.tags, damaged.assignee_email) == (
        "high",
        ["damage"],
        "",
    )
    assert (refund.priority, refund.tags, refund.assignee_email) == (
        "urgent",
        ["damage", "money"],
        "staff@example.com",
    )
    assert (plain.priority, plain.tags) == ("normal", [])


def test_rule_on_order_status(customer_api_client, alice_order, support_config):
    RoutingRule.objects.create(
        name="Unshipped", order_statuses=["unfulfilled"], set_tier=2
    )
    about_order = create_ticket(customer_api_client, order=oid(alice_order))
    no_order = create_ticket(customer_api_client)
    assert (about_order.tier, no_order.tier) == (2, 1)


def test_auto_assignment_goes_to_the_least_loaded(
    customer_api_client, staff_user, staff_user_without_permission, support_config
):
    support_config(auto_assign_staff="staff@example.com, intern@example.com")
    TicketFactory.create(
        assignee_user_id=str(staff_user.pk), assignee_email=staff_user.email
    )
    first = create_ticket(customer_api_client)
    second = create_ticket(customer_api_client)
    assert (
        first.assignee_email == "intern@example.com"
    )  # staff@ has one open ticket already
    assert second.assignee_email in {"staff@example.com", "intern@example.com"}
    assert Ticket.objects.filter(assignee_email="intern@example.com").count() == 1 + (
        second.assignee_email == "intern@example.com"
    )


def test_macro_fills_placeholders_and_sets_status(
    customer_api_client, staff_api_client, alice_order, support_config
):
    support_config(tracking_url_template="https://track.example/{{tracking_number}}")
    alice_order.customer_first_name = "Alice"
    alice_order.save()
    FulfillmentSnapshot.objects.create(
        order=alice_order,
        fulfillment_id="f1",
        composed_id="1042-1",
        status="fulfilled",
        tracking_number="1Z77",
        created_at=alice_order.placed_at,
        last_activity_at=alice_order.placed_at,
    )
    ticket = create_ticket(customer_api_client, order=oid(alice_order))
    macro = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_CREATE,
            {
                "input": {
                    "name": "Where is my order",
                    "body": "Hi {{customer_name}}, order #{{order_number}} is on its way: {{tracking_link}}",
                    "setStatus": "SOLVED",
                }
            },
        ),
        "supportMacroCreate",
    )
    assert macro["errors"] == []
    applied = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_APPLY, {"id": tid(ticket), "macro": macro["macro"]["id"]}
        ),
        "supportTicketMacroApply",
    )
    assert applied["errors"] == []
    assert applied["message"] == {
        "bodyText": "Hi Alice, order #1042 is on its way: https://track.example/1Z77",
        "authorKind": "STAFF",
    }
    assert applied["ticket"]["status"] == "SOLVED"


@pytest.mark.parametrize(
    ("macro_input", "field", "code"),
    [
        ({"name": "", "body": "x"}, "name", "REQUIRED"),
        ({"name": "a" * 101, "body": "x"}, "name", "TOO_LONG"),
        ({"name": "Ok", "body": " "}, "body", "REQUIRED"),
        ({"name": "Ok", "body": "Hi {{#if customer_name}}"}, "body", "INVALID"),
    ],
)
def test_macro_validation(staff_api_client, support_config, macro_input, field, code):
    result = data_of(
        staff_api_client.post_graphql(MUTATION_MACRO_CREATE, {"input": macro_input}),
        "supportMacroCreate",
    )
    assert [(error["field"], error["code"]) for error in result["errors"]] == [
        (field, code)
    ]
    assert not Macro.objects.exists()


def test_duplicate_macro_name_is_invalid(staff_api_client, support_config):
    Macro.objects.create(name="Thanks", body="Thanks!")
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_CREATE, {"input": {"name": "thanks", "body": "x"}}
        ),
        "supportMacroCreate",
    )
    assert result["errors"][0]["code"] == "INVALID"


@pytest.mark.parametrize(
    "client_fixture",
    ["customer_api_client", "staff_without_permission_api_client", "api_client"],
)
def test_staff_tools_need_the_permission(request, db, client_fixture, support_config):
    client = request.getfixturevalue(client_fixture)
    macro = Macro.objects.create(name="Thanks", body="Thanks!")
    created = data_of(
        client.post_graphql(
            MUTATION_MACRO_CREATE, {"input": {"name": "X", "body": "y"}}
        ),
        "supportMacroCreate",
    )
    assert created["errors"][0]["code"] == "PERMISSION_DENIED"
    rule = data_of(
        client.post_graphql(MUTATION_RULE_CREATE, {"input": {"name": "X"}}),
        "supportRoutingRuleCreate",
    )
    assert rule["errors"][0]["code"] == "PERMISSION_DENIED"
    listing = get_graphql_content(
        client.post_graphql("{ supportMacros { name } supportRoutingRules { name } }")
    )
    assert listing["data"] == {"supportMacros": [], "supportRoutingRules": []}
    assert Macro.objects.get().pk == macro.pk


MUTATION_RULE_UPDATE = """
mutation rule($id: ID!, $input: SupportRoutingRuleInput!) {
  supportRoutingRuleUpdate(id: $id, input: $input) {
    rule { name setTier isActive keywords }
    errors { field code message }
  }
}
"""

MUTATION_RULE_DELETE = """
mutation rule($id: ID!) { supportRoutingRuleDelete(id: $id) { ok errors { field code message } } }
"""

MUTATION_MACRO_UPDATE = """
mutation macro($id: ID!, $input: SupportMacroInput!) {
  supportMacroUpdate(id: $id, input: $input) { macro { name setStatus } errors { field code message } }
}
"""

MUTATION_MACRO_DELETE = """
mutation macro($id: ID!) { supportMacroDelete(id: $id) { ok errors { field code message } } }
"""


def test_routing_rule_update_and_delete(staff_api_client, support_config):
    rule = RoutingRule.objects.create(name="Old")
    rule_id = to_global_id("SupportRoutingRule", rule.pk)
    updated = data_of(
        staff_api_client.post_graphql(
            MUTATION_RULE_UPDATE,
            {
                "id": rule_id,
                "input": {
                    "name": "New",
                    "setTier": 3,
                    "isActive": False,
                    "keywords": [" refund ", ""],
                },
            },
        ),
        "supportRoutingRuleUpdate",
    )
    assert updated == {
        "rule": {
            "name": "New",
            "setTier": 3,
            "isActive": False,
            "keywords": ["refund"],
        },
        "errors": [],
    }
    deleted = data_of(
        staff_api_client.post_graphql(MUTATION_RULE_DELETE, {"id": rule_id}),
        "supportRoutingRuleDelete",
    )
    assert deleted == {"ok": True, "errors": []}
    again = data_of(
        staff_api_client.post_graphql(MUTATION_RULE_DELETE, {"id": rule_id}),
        "supportRoutingRuleDelete",
    )
    assert again["errors"][0]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    ("rule_input", "field", "code"),
    [
        ({"name": " "}, "name", "REQUIRED"),
        ({"name": "X", "setTier": 12}, "setTier", "INVALID"),
        ({"name": "X", "keywords": ["k" * 101]}, "keywords", "TOO_LONG"),
        (
            {"name": "X", "assignee": to_global_id("User", 424242)},
            "assignee",
            "NOT_FOUND",
        ),
        ({"name": "X", "addTags": ["t" * 51]}, "tags", "INVALID"),
    ],
)
def test_routing_rule_validation(
    staff_api_client, support_config, rule_input, field, code
):
    result = data_of(
        staff_api_client.post_graphql(MUTATION_RULE_CREATE, {"input": rule_input}),
        "supportRoutingRuleCreate",
    )
    assert [(error["field"], error["code"]) for error in result["errors"]] == [
        (field, code)
    ]
    assert not RoutingRule.objects.exists()


def test_macro_update_and_delete(staff_api_client, support_config):
    macro = Macro.objects.create(name="Old", body="x")
    macro_id = to_global_id("SupportMacro", macro.pk)
    updated = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_UPDATE,
            {
                "id": macro_id,
                "input": {"name": "New", "body": "y", "setStatus": "ON_HOLD"},
            },
        ),
        "supportMacroUpdate",
    )
    assert updated == {"macro": {"name": "New", "setStatus": "ON_HOLD"}, "errors": []}
    assert data_of(
        staff_api_client.post_graphql(MUTATION_MACRO_DELETE, {"id": macro_id}),
        "supportMacroDelete",
    ) == {
        "ok": True,
        "errors": [],
    }
    missing = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_APPLY, {"id": tid(TicketFactory.create()), "macro": macro_id}
        ),
        "supportTicketMacroApply",
    )
    assert missing["errors"][0]["code"] == "NOT_FOUND"
