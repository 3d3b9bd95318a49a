"""Staff ticket list: filters, sorting, pagination and a constant number of queries."""

from django.db import connection
from django.test.utils import CaptureQueriesContext
from graphql_relay import to_global_id

from .factories import OrderSnapshotFactory, TicketFactory, TicketMessageFactory
from .fixtures.graphql import get_graphql_content

QUERY_STAFF_LIST = """
query list($first: Int, $after: String, $filter: SupportTicketFilterInput, $sortBy: SupportTicketSortingInput) {
  supportTickets(first: $first, after: $after, filter: $filter, sortBy: $sortBy) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node {
      number subject status priority customerEmail
      order { number }
      assignee { email }
      lastMessageText lastMessageAt
    } }
  }
}
"""


def numbers(content):
    return [
        edge["node"]["number"] for edge in content["data"]["supportTickets"]["edges"]
    ]


def make_tickets(count, **kwargs):
    tickets = []
    for index in range(count):
        order = OrderSnapshotFactory.create(number=str(7000 + index))
        ticket = TicketFactory.create(order=order, number=100 + index, **kwargs)
        TicketMessageFactory.create(ticket=ticket, body_text=f"first {index}")
        TicketMessageFactory.create(ticket=ticket, body_text=f"latest {index}")
        TicketMessageFactory.create(
            ticket=ticket,
            body_text=f"internal {index}",
            is_internal=True,
            author_kind="staff",
        )
        tickets.append(ticket)
    return tickets


def test_staff_list_uses_a_constant_number_of_queries(
    staff_api_client, staff_user, support_config
):
    # given 30 tickets with orders, assignees and three messages each
    make_tickets(
        30, assignee_user_id=str(staff_user.pk), assignee_email=staff_user.email
    )

    def run(page_size):
        with CaptureQueriesContext(connection) as queries:
            content = get_graphql_content(
                staff_api_client.post_graphql(QUERY_STAFF_LIST, {"first": page_size})
            )
        return content, queries.captured_queries

    # when pages of 5 and of 25 are listed
    small, small_captured = run(5)
    large, queries_of_large = run(25)
    small_queries, large_queries = len(small_captured), len(queries_of_large)
    # then the number of queries does not grow with the page
    assert len(numbers(small)) == 5
    assert len(numbers(large)) == 25
    assert small_queries == large_queries
    # user, user + group permissions, COUNT, the page (with order and last message)
    assert large_queries == 5, [q["sql"][:80] for q in queries_of_large]
    node = large["data"]["supportTickets"]["edges"][0]["node"]
    assert node["lastMessageText"].startswith("internal")  # staff see notes
    assert node["assignee"] == {"email": "staff@example.com"}
    assert node["order"]["number"].startswith("70")


def test_pagination_with_cursors_and_total_count(staff_api_client, support_config):
    make_tickets(7)
    seen = []
    after = None
    while True:
        content = get_graphql_content(
            staff_api_client.post_graphql(
                QUERY_STAFF_LIST,
                {
                    "first": 3,
                    "after": after,
                    "sortBy": {"field": "NUMBER", "direction": "ASC"},
                },
            )
        )
        page = content["data"]["supportTickets"]
        assert page["totalCount"] == 7
        seen += numbers(content)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(range(100, 107))


def test_pagination_arguments_are_checked(staff_api_client, support_config):
    for query in (
        "{ supportTickets { totalCount } }",
        "{ supportTickets(first: 101) { totalCount } }",
        '{ supportTickets(first: 5, after: "garbage") { totalCount } }',
    ):
        content = get_graphql_content(
            staff_api_client.post_graphql(query), ignore_errors=True
        )
        assert content["data"]["supportTickets"] is None
        assert content["errors"][0]["extensions"]["code"] == "GRAPHQL_ERROR"


def test_filters(staff_api_client, staff_user, support_config):
    tickets = make_tickets(6)
    tickets[0].status, tickets[0].tags = "on_hold", ["vip"]
    tickets[1].assignee_user_id, tickets[1].assignee_email = (
        str(staff_user.pk),
        staff_user.email,
    )
    tickets[2].subject = "Broken zipper on jacket"
    tickets[3].customer_email = "Carol@Example.com"
    for ticket in tickets[:4]:
        ticket.save()

    def list_numbers(filter_):
        content = get_graphql_content(
            staff_api_client.post_graphql(
                QUERY_STAFF_LIST,
                {
                    "first": 50,
                    "filter": filter_,
                    "sortBy": {"field": "NUMBER", "direction": "ASC"},
                },
            )
        )
        return numbers(content)

    assert list_numbers({"status": ["ON_HOLD"]}) == [100]
    assert list_numbers({"tag": "VIP"}) == [100]
    assert list_numbers({"assignee": to_global_id("User", staff_user.pk)}) == [101]
    assert list_numbers({"unassigned": False}) == [101]
    assert len(list_numbers({"unassigned": True})) == 5
    assert list_numbers({"search": "zipper"}) == [102]
    assert list_numbers({"search": "latest 4"}) == [104]  # words in a message
    assert list_numbers({"search": "T-103"}) == [103]  # the reference from an email
    assert list_numbers({"search": "t103"}) == [103]
    assert list_numbers({"customerEmail": "carol@example.com"}) == [103]
    assert list_numbers({"orderNumber": "#7005"}) == [105]


def test_sort_by_priority(staff_api_client, support_config):
    low = TicketFactory.create(priority="low", priority_rank=0)
    urgent = TicketFactory.create(priority="urgent", priority_rank=3)
    normal = TicketFactory.create()
    content = get_graphql_content(
        staff_api_client.post_graphql(
            QUERY_STAFF_LIST,
            {"first": 10, "sortBy": {"field": "PRIORITY", "direction": "DESC"}},
        )
    )
    assert numbers(content) == [urgent.number, normal.number, low.number]


def test_customer_list_shows_only_public_last_message(
    customer_api_client, support_config
):
    ticket = TicketFactory.create(customer_user_id=str(customer_api_client.user.pk))
    TicketMessageFactory.create(ticket=ticket, body_text="public")
    TicketMessageFactory.create(ticket=ticket, body_text="internal", is_internal=True)
    content = get_graphql_content(
        customer_api_client.post_graphql(QUERY_STAFF_LIST, {"first": 5})
    )
    assert (
        content["data"]["supportTickets"]["edges"][0]["node"]["lastMessageText"]
        == "public"
    )
