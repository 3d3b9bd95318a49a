"""Guest tokens, rate limits, customer searches, odd IDs and sanitizing (issue 7).

Guest tokens open guest orders only; rate limits cannot be turned against
customers; customers search only what they can read; odd IDs and numbers
answer coded errors instead of 500s.
"""

from __future__ import annotations

import json

import pytest
import time_machine
from django.test import RequestFactory
from graphql_relay import to_global_id

from saleor_support_plugin.conf import parse_settings
from saleor_support_plugin.core.client_ip import client_ip
from saleor_support_plugin.core.text import plain_text, sanitize_html
from saleor_support_plugin.tickets.guest import NOT_FOUND_MESSAGE, make_guest_token
from saleor_support_plugin.tickets.models import RoutingRule, Ticket, TicketMessage

from .factories import OrderSnapshotFactory, TicketFactory, TicketMessageFactory
from .fixtures.graphql import SupportApiClient, get_graphql_content
from .fixtures.tickets import GuestApiClient

MUTATION_GUEST_TOKEN = """
mutation guest($number: String!, $email: String!) {
  supportGuestTokenCreate(orderNumber: $number, email: $email) {
    token errors { field code message }
  }
}
"""

QUERY_TICKETS = """
query tickets($filter: SupportTicketFilterInput, $sortBy: SupportTicketSortingInput) {
  supportTickets(first: 20, filter: $filter, sortBy: $sortBy) {
    totalCount edges { node { number subject } }
  }
}
"""

QUERY_TICKET = """
query ticket($id: ID!) { supportTicket(id: $id) { number } }
"""

MUTATION_TICKET_CREATE = """
mutation create($input: SupportTicketCreateInput!) {
  supportTicketCreate(input: $input) { ticket { number } errors { field code message } }
}
"""

MUTATION_TICKET_REPLY = """
mutation reply($id: ID!, $body: String!) {
  supportTicketReply(id: $id, input: {body: $body}) { message { bodyText } errors { field code message } }
}
"""

MUTATION_CLOSE = """
mutation close($id: ID!) { supportTicketClose(id: $id) { ticket { status } errors { field code } } }
"""

MUTATION_ASSIGN = """
mutation assign($id: ID!, $assignee: ID) {
  supportTicketAssign(id: $id, assignee: $assignee) { ticket { number } errors { field code message } }
}
"""

MUTATION_RULE_CREATE = """
mutation rule($input: SupportRoutingRuleInput!) {
  supportRoutingRuleCreate(input: $input) { rule { name position } errors { field code message } }
}
"""


def data_of(response, name):
    return get_graphql_content(response)["data"][name]


def tid(ticket) -> str:
    return to_global_id("SupportTicket", str(ticket.pk))


def guest_token_call(number: str, email: str, *, ip: str = "198.51.100.1", **headers):
    client = SupportApiClient()
    return data_of(
        client.post_graphql(
            MUTATION_GUEST_TOKEN,
            {"number": number, "email": email},
            REMOTE_ADDR=ip,
            **headers,
        ),
        "supportGuestTokenCreate",
    )


@pytest.fixture
def account_order(customer_user):
    return OrderSnapshotFactory.create(
        user_id=str(customer_user.pk), customer_email=customer_user.email, number="1001"
    )


@pytest.fixture
def account_ticket(account_order, customer_user):
    ticket = TicketFactory.create(
        order=account_order,
        customer_user_id=str(customer_user.pk),
        customer_email=customer_user.email,
        subject="Zipper broke",
    )
    TicketMessageFactory.create(ticket=ticket, body_text="Card ending 4242")
    return ticket


# --- guest tokens: guest orders only


def test_account_order_answers_exactly_like_a_missing_one(
    account_order, guest_order, support_config
):
    # given an order placed with an account and a number that does not exist
    # when a guest token is requested for each with the right email
    account = guest_token_call("1001", "alice@example.com")
    missing = guest_token_call("7777", "alice@example.com", ip="198.51.100.2")
    # then both answer the same, and point to signing in
    assert account == missing
    assert account["token"] is None
    assert account["errors"] == [
        {"field": "orderNumber", "code": "NOT_FOUND", "message": NOT_FOUND_MESSAGE}
    ]
    assert "sign in" in NOT_FOUND_MESSAGE


def test_guest_order_still_gets_a_token(guest_order, support_config):
    result = guest_token_call("#3042", " Guest@Example.com ")
    assert result["errors"] == []
    assert result["token"]


@pytest.mark.parametrize(
    "operation",
    ["list", "read", "reply", "close", "create"],
)
def test_token_for_an_account_order_opens_nothing(
    account_ticket, account_order, support_config, operation
):
    # given a token signed for an account's order (as issued before the fix)
    guest = GuestApiClient(
        make_guest_token(account_order.order_id, account_order.customer_email)
    )
    messages_before = TicketMessage.objects.count()
    # when its holder tries each operation, then nothing is visible or changes
    if operation == "list":
        result = data_of(guest.post_graphql(QUERY_TICKETS), "supportTickets")
        assert result["totalCount"] == 0
    elif operation == "read":
        result = data_of(
            guest.post_graphql(QUERY_TICKET, {"id": tid(account_ticket)}),
            "supportTicket",
        )
        assert result is None
    elif operation == "reply":
        result = data_of(
            guest.post_graphql(
                MUTATION_TICKET_REPLY, {"id": tid(account_ticket), "body": "hijack"}
            ),
            "supportTicketReply",
        )
        assert result["errors"][0]["code"] == "NOT_FOUND"
    elif operation == "close":
        result = data_of(
            guest.post_graphql(MUTATION_CLOSE, {"id": tid(account_ticket)}),
            "supportTicketClose",
        )
        assert result["errors"][0]["code"] == "NOT_FOUND"
        assert Ticket.objects.get(pk=account_ticket.pk).status == account_ticket.status
    else:
        result = data_of(
            guest.post_graphql(
                MUTATION_TICKET_CREATE,
                {"input": {"subject": "Mine now", "body": "hello"}},
            ),
            "supportTicketCreate",
        )
        assert result["errors"][0]["code"] == "NOT_FOUND"
    assert TicketMessage.objects.count() == messages_before


# --- rate limits attackers cannot turn against customers


def test_attack_on_a_number_from_many_addresses_lets_the_owner_in(
    guest_order, support_config
):
    # given ten wrong guesses for the guest's number from ten addresses
    for attempt in range(10):
        wrong = guest_token_call(
            "3042", f"guess{attempt}@example.com", ip=f"203.0.113.{attempt + 1}"
        )
        assert wrong["errors"][0]["code"] == "NOT_FOUND"
    # when the real guest asks with the right email from their own address
    right = guest_token_call("3042", "guest@example.com", ip="192.0.2.77")
    # then they get their token
    assert right["errors"] == []
    assert right["token"]


def test_repeated_wrong_pair_is_throttled_across_addresses(guest_order, support_config):
    codes = [
        guest_token_call("3042", "wrong@example.com", ip=f"203.0.113.{n + 1}")[
            "errors"
        ][0]["code"]
        for n in range(6)
    ]
    assert codes == ["NOT_FOUND"] * 5 + ["RATE_LIMITED"]
    # a missing number is throttled the same way: existence is not revealed
    missing = [
        guest_token_call("9999", "wrong@example.com", ip=f"203.0.114.{n + 1}")[
            "errors"
        ][0]["code"]
        for n in range(6)
    ]
    assert missing == codes


def test_trusted_proxy_forwards_each_customers_address(guest_order, support_config):
    # given a storefront server at 10.0.0.5 that the merchant trusts
    support_config(trusted_proxies="10.0.0.0/24")
    # when one customer behind it guesses ten times wrong
    for attempt in range(10):
        guest_token_call(
            "3042",
            f"guess{attempt}@example.com",
            ip="10.0.0.5",
            HTTP_X_FORWARDED_FOR="203.0.113.9",
        )
    blocked = guest_token_call(
        "3042", "guest@example.com", ip="10.0.0.5", HTTP_X_FORWARDED_FOR="203.0.113.9"
    )
    # then only that customer is throttled; another customer of the store is not
    other = guest_token_call(
        "3042", "guest@example.com", ip="10.0.0.5", HTTP_X_FORWARDED_FOR="192.0.2.10"
    )
    assert blocked["errors"][0]["code"] == "RATE_LIMITED"
    assert other["errors"] == []


def test_forwarded_header_is_ignored_from_untrusted_addresses(
    guest_order, support_config
):
    # given no trusted proxies: a client cannot pick a fresh address per request
    for attempt in range(10):
        guest_token_call(
            "3042",
            f"guess{attempt}@example.com",
            ip="203.0.113.50",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{attempt}",
        )
    result = guest_token_call(
        "3042",
        "guest@example.com",
        ip="203.0.113.50",
        HTTP_X_FORWARDED_FOR="192.0.2.99",
    )
    assert result["errors"][0]["code"] == "RATE_LIMITED"


def test_address_lockout_lasts_a_quarter_hour_not_the_hour(guest_order, support_config):
    # given an address that used up its wrong guesses at 12:00
    with time_machine.travel("2026-12-01 12:00:00+00:00", tick=False):
        for attempt in range(10):
            guest_token_call("3042", f"guess{attempt}@example.com", ip="203.0.113.60")
        locked = guest_token_call("3042", "guest@example.com", ip="203.0.113.60")
    # when the real guest behind that address tries again at 12:16
    with time_machine.travel("2026-12-01 12:16:00+00:00", tick=False):
        later = guest_token_call("3042", "guest@example.com", ip="203.0.113.60")
    # then they are in
    assert locked["errors"][0]["code"] == "RATE_LIMITED"
    assert later["errors"] == []


@pytest.mark.parametrize(
    ("remote", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.1", "", "", "203.0.113.1"),
        ("203.0.113.1", "192.0.2.1", "", "203.0.113.1"),
        ("10.0.0.5", "192.0.2.1", "10.0.0.0/8", "192.0.2.1"),
        # the client may prepend anything; only the hop our proxy appended counts
        ("10.0.0.5", "6.6.6.6, 192.0.2.1", "10.0.0.0/8", "192.0.2.1"),
        # two trusted proxies in a row
        ("10.0.0.5", "192.0.2.1, 10.0.0.9", "10.0.0.0/8", "192.0.2.1"),
        ("10.0.0.5", "not-an-ip", "10.0.0.0/8", "10.0.0.5"),
        ("10.0.0.5", "", "10.0.0.0/8", "10.0.0.5"),
        ("::1", "2001:db8::7", "::1/128", "2001:db8::7"),
        ("", "192.0.2.1", "10.0.0.0/8", None),
    ],
)
def test_client_ip(remote, forwarded, trusted, expected):
    request = RequestFactory().get(
        "/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded
    )
    settings = parse_settings({"trusted_proxies": trusted}, active=True)
    assert client_ip(request, settings.trusted_proxies) == expected


def test_failed_ticket_creations_do_not_use_up_the_allowance(
    customer_api_client, support_config
):
    # given an allowance of two messages an hour
    support_config(ticket_rate_limit_per_hour="2")
    # when the customer sends five invalid forms first
    for _ in range(5):
        invalid = data_of(
            customer_api_client.post_graphql(
                MUTATION_TICKET_CREATE, {"input": {"subject": " ", "body": "hi"}}
            ),
            "supportTicketCreate",
        )
        assert invalid["errors"][0]["code"] == "REQUIRED"
    missing_order = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_CREATE,
            {
                "input": {
                    "subject": "Hi",
                    "body": "hi",
                    "order": to_global_id(
                        "Order", "0b9c4a4e-7c0e-4f55-9a57-0d0f54b7b0a1"
                    ),
                }
            },
        ),
        "supportTicketCreate",
    )
    assert missing_order["errors"][0]["code"] == "NOT_FOUND"
    # then two valid tickets still go through, and the third is limited
    codes = [
        data_of(
            customer_api_client.post_graphql(
                MUTATION_TICKET_CREATE,
                {"input": {"subject": f"Question {n}", "body": "hi"}},
            ),
            "supportTicketCreate",
        )["errors"]
        for n in range(3)
    ]
    assert codes[0] == []
    assert codes[1] == []
    assert codes[2][0]["code"] == "RATE_LIMITED"


# --- customers search only what they can read


def test_customer_search_does_not_match_internal_notes(
    customer_api_client, staff_api_client, account_ticket, support_config
):
    # given a staff-only note with a word the customer never saw
    TicketMessageFactory.create(
        ticket=account_ticket,
        author_kind="staff",
        is_internal=True,
        body_text="Suspected fraudster, do not refund",
    )
    search = {"filter": {"search": "fraudster"}}
    # when the customer searches for it, then nothing matches
    customer = data_of(
        customer_api_client.post_graphql(QUERY_TICKETS, search), "supportTickets"
    )
    assert customer["totalCount"] == 0
    # while the customer's own words and staff searches still match
    own = data_of(
        customer_api_client.post_graphql(QUERY_TICKETS, {"filter": {"search": "4242"}}),
        "supportTickets",
    )
    assert own["totalCount"] == 1
    staff = data_of(
        staff_api_client.post_graphql(QUERY_TICKETS, search), "supportTickets"
    )
    assert staff["totalCount"] == 1


def test_customers_may_not_sort_by_sla(customer_api_client, staff_api_client, db):
    sort = {"sortBy": {"field": "SLA_DUE", "direction": "ASC"}}
    response = customer_api_client.post_graphql(QUERY_TICKETS, sort)
    content = json.loads(response.content)
    assert content["data"]["supportTickets"] is None
    assert "staff" in content["errors"][0]["message"]
    assert "Traceback" not in response.content.decode()
    staff = data_of(
        staff_api_client.post_graphql(QUERY_TICKETS, sort), "supportTickets"
    )
    assert staff["totalCount"] == 0


# --- odd IDs and numbers answer coded errors


NON_UUID_TICKET_ID = "U3VwcG9ydFRpY2tldDpub3QtYS11dWlk"  # SupportTicket:not-a-uuid


def test_global_id_with_a_non_uuid_inside(customer_api_client, staff_api_client, db):
    # when a well-formed global ID carries garbage, then it is simply not found
    read = customer_api_client.post_graphql(QUERY_TICKET, {"id": NON_UUID_TICKET_ID})
    assert read.status_code == 200
    assert get_graphql_content(read)["data"]["supportTicket"] is None
    reply = data_of(
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": NON_UUID_TICKET_ID, "body": "hi"}
        ),
        "supportTicketReply",
    )
    assert reply["errors"][0]["code"] == "NOT_FOUND"


@pytest.mark.parametrize(
    "assignee",
    [
        to_global_id("User", "abc"),
        to_global_id("User", "-1"),
        to_global_id("User", "99999999999999999999999"),
        to_global_id("User", "١٢"),  # Arabic-Indic digits
        "not-base64-%%%",
    ],
)
def test_assignee_ids_that_are_not_users(staff_api_client, support_config, assignee):
    ticket = TicketFactory.create()
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_ASSIGN, {"id": tid(ticket), "assignee": assignee}
        ),
        "supportTicketAssign",
    )
    assert result["errors"] == [
        {"field": "assignee", "code": "NOT_FOUND", "message": "Staff member not found."}
    ]
    # filtering by it is refused rather than silently ignored
    response = staff_api_client.post_graphql(
        QUERY_TICKETS, {"filter": {"assignee": assignee}}
    )
    content = json.loads(response.content)
    assert content["data"]["supportTickets"] is None
    assert "assignee" in content["errors"][0]["message"]


@pytest.mark.parametrize("hours", [2147483647, -1])
def test_sla_due_within_hours_out_of_range(staff_api_client, support_config, hours):
    response = staff_api_client.post_graphql(
        QUERY_TICKETS, {"filter": {"slaDueWithinHours": hours}}
    )
    content = json.loads(response.content)
    assert response.status_code == 200
    assert content["data"]["supportTickets"] is None
    assert "slaDueWithinHours" in content["errors"][0]["message"]


def test_sla_due_within_a_year_still_works(staff_api_client, support_config):
    TicketFactory.create()
    result = data_of(
        staff_api_client.post_graphql(
            QUERY_TICKETS, {"filter": {"slaDueWithinHours": 24 * 366}}
        ),
        "supportTickets",
    )
    assert result["totalCount"] == 0  # the factory ticket has no SLA targets


@pytest.mark.parametrize(
    ("rule_input", "field", "code"),
    [
        ({"name": "Refunds", "position": -1}, "position", "INVALID"),
        ({"name": "Refunds", "position": 2147483647}, "position", "INVALID"),
        ({"name": ""}, "name", "REQUIRED"),
        ({"name": "   "}, "name", "REQUIRED"),
        ({"name": "x" * 101}, "name", "TOO_LONG"),
    ],
)
def test_routing_rule_bad_values(
    staff_api_client, support_config, rule_input, field, code
):
    result = data_of(
        staff_api_client.post_graphql(MUTATION_RULE_CREATE, {"input": rule_input}),
        "supportRoutingRuleCreate",
    )
    assert result["rule"] is None
    assert [(e["field"], e["code"]) for e in result["errors"]] == [(field, code)]
    assert RoutingRule.objects.count() == 0


# --- sanitizing keeps the text, drops only markup


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (
            "My form shows <style> and then nothing. PLEASE REFUND",
            "My form shows <style> and then nothing. PLEASE REFUND",
        ),
        (
            "It says <script> then stops. Order 1001",
            "It says <script> then stops. Order 1001",
        ),
        ("I paid <5 euro, a <b and more", "I paid <5 euro, a <b and more"),
        ("Before <!-- after", "Before <!-- after"),
        ("<textarea>typed text", "<textarea>typed text"),
        ("<p>Hello <b>you</b></p><script>alert(1)</script>bye", "Hello you\nbye"),
        ("<style>p {color: red}</style><p>Body</p>", "Body"),
    ],
)
def test_sanitizer_keeps_the_customers_words(body, text):
    safe, plain = sanitize_html(body)
    assert plain == text
    assert "<script" not in safe.lower()
    assert "<style" not in safe.lower()
    assert "<textarea" not in safe.lower()


def test_customer_message_after_style_tag_is_stored_whole(
    customer_api_client, support_config
):
    body = "My form shows <style> and then nothing. PLEASE REFUND"
    result = data_of(
        customer_api_client.post_graphql(
            MUTATION_TICKET_CREATE, {"input": {"subject": "Form", "body": body}}
        ),
        "supportTicketCreate",
    )
    assert result["errors"] == []
    message = TicketMessage.objects.get()
    assert message.body_text == body
    assert message.body_html == (
        "My form shows &lt;style&gt; and then nothing. PLEASE REFUND"
    )


def test_plain_text_keeps_words_after_an_unclosed_tag():
    assert plain_text("Parcel <style> damaged at depot") == (
        "Parcel <style> damaged at depot"
    )


QUERY_SENDER_VERIFIED = """
query ticket($id: ID!) { supportTicket(id: $id) { number senderVerified } }
"""


def test_staff_see_whether_an_email_sender_was_verified(
    staff_api_client, support_config
):
    # given a ticket from an email sender the provider did not authenticate
    ticket = TicketFactory.create(channel="email", sender_verified=False)
    # when staff read it, then they are told not to trust the sender
    result = data_of(
        staff_api_client.post_graphql(QUERY_SENDER_VERIFIED, {"id": tid(ticket)}),
        "supportTicket",
    )
    assert result == {"number": ticket.number, "senderVerified": False}


def test_customers_are_not_shown_sender_verification(
    customer_api_client, account_ticket, support_config
):
    result = data_of(
        customer_api_client.post_graphql(
            QUERY_SENDER_VERIFIED, {"id": tid(account_ticket)}
        ),
        "supportTicket",
    )
    assert result == {"number": account_ticket.number, "senderVerified": None}
