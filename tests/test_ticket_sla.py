"""SLA targets in business hours by priority; breaches marked and reported once."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import time_machine

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.tickets.models import Ticket
from saleor_support_plugin.tickets.sla import check_sla_breaches

from .fixtures.graphql import get_graphql_content
from .test_ticket_api import (
    MUTATION_TICKET_CREATE,
    MUTATION_TICKET_REPLY,
    MUTATION_UPDATE,
    create_input,
    data_of,
    tid,
)

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_4PM = datetime(2026, 11, 20, 16, 0, tzinfo=BERLIN)

QUERY_SLA = """
query list($filter: SupportTicketFilterInput, $sortBy: SupportTicketSortingInput) {
  supportTickets(first: 20, filter: $filter, sortBy: $sortBy) {
    edges { node { number firstResponseDueAt resolutionDueAt slaBreached } }
  }
}
"""


def sla_config(support_config, **extra):
    support_config(
        business_timezone="Europe/Berlin",
        business_hours="09:00-17:00",
        sla_first_response_hours="8",
        sla_resolution_hours="24",
        sla_policies="urgent=1/4",
        support_staff_addresses="team@acme.example",
        **extra,
    )


def open_ticket(client):
    result = data_of(
        client.post_graphql(MUTATION_TICKET_CREATE, create_input()),
        "supportTicketCreate",
    )
    return Ticket.objects.get(number=result["ticket"]["number"])


def test_due_times_follow_business_hours_and_priority(
    customer_api_client, staff_api_client, support_config
):
    sla_config(support_config)
    with time_machine.travel(FRIDAY_4PM, tick=False):
        ticket = open_ticket(customer_api_client)
        # normal: 8 business hours from Friday 16:00 → 1 h Friday + 7 h Monday = Monday 16:00
        assert ticket.first_response_due_at == datetime(
            2026, 11, 23, 16, 0, tzinfo=BERLIN
        )
        # 24 h: Friday 1 + Monday 8 + Tuesday 8 + Wednesday 7 → Wednesday 16:00
        assert ticket.resolution_due_at == datetime(2026, 11, 25, 16, 0, tzinfo=BERLIN)
        # when staff make it urgent (1/4): Friday 17:00 and Monday 12:00
        staff_api_client.post_graphql(
            MUTATION_UPDATE, {"id": tid(ticket), "input": {"priority": "URGENT"}}
        )
    ticket.refresh_from_db()
    assert ticket.first_response_due_at == datetime(2026, 11, 20, 17, 0, tzinfo=BERLIN)
    assert ticket.resolution_due_at == datetime(2026, 11, 23, 12, 0, tzinfo=BERLIN)


def test_breach_is_marked_and_reported_once(
    customer_api_client, mail_config, smtp_server, on_commit
):
    sla_config(mail_config)
    with time_machine.travel(FRIDAY_4PM, tick=False):
        ticket = open_ticket(customer_api_client)
    smtp_server.clear()
    # Monday 15:59: not yet; 16:01: first response breached; twice
    for moment, expected in [
        (datetime(2026, 11, 23, 15, 59, tzinfo=BERLIN), []),
        (
            datetime(2026, 11, 23, 16, 1, tzinfo=BERLIN),
            [(ticket.number, "first response")],
        ),
        (datetime(2026, 11, 23, 16, 30, tzinfo=BERLIN), []),
    ]:
        with time_machine.travel(moment, tick=False):
            result = []
            on_commit(
                lambda: result.extend(
                    check_sla_breaches(now=moment, settings=load_settings())
                )
            )
            assert result == expected
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == ("team@acme.example",)
    assert (
        mail.subject
        == f"SLA breached: first response on T-{ticket.number} Where is my parcel?"
    )
    assert Notification.objects.filter(kind="ticket_sla_breach").count() == 1


def test_replied_or_solved_tickets_do_not_breach(
    customer_api_client, staff_api_client, support_config
):
    sla_config(support_config)
    with time_machine.travel(FRIDAY_4PM, tick=False):
        replied = open_ticket(customer_api_client)
        solved = open_ticket(customer_api_client)
        staff_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(replied), "body": "On it"}
        )
        staff_api_client.post_graphql(
            MUTATION_UPDATE, {"id": tid(solved), "input": {"status": "SOLVED"}}
        )
    late = datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN)
    assert check_sla_breaches(now=late, settings=load_settings()) == []
    much_later = late + timedelta(days=30)
    # The replied ticket waits for the customer: its clocks stand still
    # (tests/test_sla_pause.py: it breaches after the customer answers).
    assert check_sla_breaches(now=much_later, settings=load_settings()) == []


def test_sla_filters_and_sort_for_staff(
    customer_api_client, staff_api_client, support_config
):
    sla_config(support_config)
    with time_machine.travel(FRIDAY_4PM, tick=False):
        normal = open_ticket(customer_api_client)
        urgent = open_ticket(customer_api_client)
        staff_api_client.post_graphql(
            MUTATION_UPDATE, {"id": tid(urgent), "input": {"priority": "URGENT"}}
        )
    check_sla_breaches(
        now=datetime(2026, 11, 20, 17, 30, tzinfo=BERLIN), settings=load_settings()
    )

    def numbers(variables):
        content = get_graphql_content(
            staff_api_client.post_graphql(QUERY_SLA, variables)
        )
        return [
            edge["node"]["number"]
            for edge in content["data"]["supportTickets"]["edges"]
        ]

    assert numbers({"filter": {"slaBreached": True}}) == [urgent.number]
    assert numbers({"filter": {"slaBreached": False}}) == [normal.number]
    assert numbers({"sortBy": {"field": "SLA_DUE", "direction": "ASC"}}) == [
        urgent.number,
        normal.number,
    ]
    with time_machine.travel(datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN), tick=False):
        # Monday 9:00: urgent's resolution (12:00) is due within 4 h, normal's first response (16:00) is not
        assert numbers({"filter": {"slaDueWithinHours": 4}}) == [urgent.number]
    customer_view = get_graphql_content(customer_api_client.post_graphql(QUERY_SLA, {}))
    assert {
        edge["node"]["slaBreached"]
        for edge in customer_view["data"]["supportTickets"]["edges"]
    } == {None}
