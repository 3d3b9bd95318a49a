"""Limits that keep the API available: depth, cost, rate of writes, guest lookups."""

import json

from .fixtures.graphql import get_graphql_content
from .test_ticket_api import (
    MUTATION_GUEST_TOKEN,
    MUTATION_TICKET_CREATE,
    create_input,
    data_of,
)


def test_query_nested_too_deep_answers_query_too_deep(api_client, db):
    # the deepest real query passes
    real = "{ supportTickets(first: 1) { edges { node { order { lines { sku } } } } } }"
    assert api_client.post_graphql(real).status_code == 200
    # depth is refused before validation or execution, whatever the fields are
    levels = "a { b { c { d { e { f { g { h { i { j } } } } } } } } }"
    response = api_client.post_graphql(
        "{ supportTickets(first: 1) { edges { node { " + levels + " } } } }"
    )
    content = json.loads(response.content)
    assert response.status_code == 400
    assert content["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


def test_expensive_query_answers_query_too_complex(api_client, db):
    aliases = " ".join(
        f"t{i}: supportTickets(first: 100) {{ edges {{ node {{ id subject messages {{ id }} }} }} }}"
        for i in range(5)
    )
    response = api_client.post_graphql("{ " + aliases + " }")
    assert response.status_code == 400
    assert (
        json.loads(response.content)["errors"][0]["extensions"]["code"]
        == "QUERY_TOO_COMPLEX"
    )


def test_page_size_from_variables_counts_too(api_client, db):
    query = (
        "query q($n: Int) { "
        + " ".join(
            f"t{i}: supportTickets(first: $n) {{ edges {{ node {{ id subject messages {{ id bodyText }} }} }} }}"
            for i in range(4)
        )
        + " }"
    )
    small = api_client.post_graphql(query, {"n": 1})
    large = api_client.post_graphql(query, {"n": 100})
    assert small.status_code == 200
    assert large.status_code == 400


def test_customer_writes_are_rate_limited(customer_api_client, support_config):
    support_config(ticket_rate_limit_per_hour="3")
    results = [
        data_of(
            customer_api_client.post_graphql(MUTATION_TICKET_CREATE, create_input()),
            "supportTicketCreate",
        )
        for _ in range(4)
    ]
    assert [r["errors"] for r in results[:3]] == [[], [], []]
    assert results[3]["errors"][0]["code"] == "RATE_LIMITED"
    assert results[3]["errors"][0]["message"].startswith(
        "Too many messages; try again in"
    )


def test_staff_are_not_rate_limited(staff_api_client, support_config):
    from .factories import TicketFactory
    from .test_ticket_api import MUTATION_TICKET_REPLY, tid

    support_config(ticket_rate_limit_per_hour="1")
    ticket = TicketFactory.create()
    for _ in range(3):
        result = data_of(
            staff_api_client.post_graphql(
                MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "hi"}
            ),
            "supportTicketReply",
        )
        assert result["errors"] == []


def test_guest_lookups_are_throttled(api_client, guest_order, support_config):
    codes = []
    for attempt in range(11):
        result = data_of(
            api_client.post_graphql(
                MUTATION_GUEST_TOKEN,
                {"number": "3042", "email": f"guess{attempt}@example.com"},
            ),
            "supportGuestTokenCreate",
        )
        codes.append(result["errors"][0]["code"])
    assert codes[:10] == ["NOT_FOUND"] * 10
    assert codes[10] == "RATE_LIMITED"
    # even the right pair is refused from this address until the window passes
    right = data_of(
        api_client.post_graphql(
            MUTATION_GUEST_TOKEN, {"number": "3042", "email": "guest@example.com"}
        ),
        "supportGuestTokenCreate",
    )
    assert right["token"] is None
    assert get_graphql_content(api_client.post_graphql("{ supportVersion }"))["data"]


def test_depth_counts_through_fragments(api_client, db):
    fragments = "fragment Deep on SupportTicket { order { lines { sku } } }"
    deep_via_fragment = (
        "{ supportTickets(first: 1) { edges { node { ...Deep } } } } "
        + fragments.replace("lines { sku }", "lines { a { b { c { d } } } }")
    )
    response = api_client.post_graphql(deep_via_fragment)
    assert (
        json.loads(response.content)["errors"][0]["extensions"]["code"]
        == "QUERY_TOO_DEEP"
    )


QUERY_PAGES_BY_DEFAULT = (
    "query q($n: Int = 100) { "
    + " ".join(
        f"t{i}: supportTickets(first: $n) {{ edges {{ node {{ id messages {{ id }} }} }} }}"
        for i in range(5)
    )
    + " }"
)


def test_page_size_from_a_variable_default_counts(api_client, db):
    # when the query relies on its default page size and sends no variables
    without = api_client.post_graphql(QUERY_PAGES_BY_DEFAULT)
    with_small = api_client.post_graphql(QUERY_PAGES_BY_DEFAULT, {"n": 1})
    # then the default is what it would run with
    assert without.status_code == 400
    assert (
        json.loads(without.content)["errors"][0]["extensions"]["code"]
        == "QUERY_TOO_COMPLEX"
    )
    assert with_small.status_code == 200


def test_unknown_page_size_counts_as_the_largest_page():
    # given a page size whose value is not known before execution
    from graphql import parse

    from saleor_support_plugin.graphql.limits import QueryRefused, check_limits

    document = parse(QUERY_PAGES_BY_DEFAULT.replace("$n: Int = 100", "$n: Int"))
    # when
    try:
        check_limits(document, {"n": "1"})
        code = None
    except QueryRefused as exc:
        code = exc.code
    # then
    assert code == "QUERY_TOO_COMPLEX"


def test_top_level_fields_are_capped_through_aliases_and_fragments(api_client, db):
    from saleor_support_plugin.graphql.limits import MAX_ROOT_FIELDS

    aliases = " ".join(f"v{i}: supportVersion" for i in range(MAX_ROOT_FIELDS))
    # when
    at_limit = api_client.post_graphql("{ " + aliases + " }")
    over = api_client.post_graphql("{ " + aliases + " extra: supportVersion }")
    through_fragment = api_client.post_graphql(
        "{ extra: supportVersion ...Q } fragment Q on Query { " + aliases + " }"
    )
    # then
    assert at_limit.status_code == 200
    for response in (over, through_fragment):
        assert response.status_code == 400
        assert (
            json.loads(response.content)["errors"][0]["extensions"]["code"]
            == "TOO_MANY_FIELDS"
        )
