"""Service statistics against hand-computed answers on a small fixed data set.

The period is the week of Monday 23 November 2026 (Berlin), the previous one
the week before; the calendar is Monday to Friday 09:00-17:00 with Thursday 26
November a holiday, and "now" is Tuesday 1 December 12:00.

Tickets (B-F and P1, P2, O1 are rows with the values the ticket code keeps;
A is made through the ticket services, so its durations come from the code):

| | opened | category | channel | first reply (business h) | resolved (business h) | notes |
|---|---|---|---|---|---|---|
| A | Mon 23 16:00 | shipping | default | Tue 10:00 (2, overnight) | solved Tue 15:00 (2: 7 h minus a 5 h wait) | one reply |
| B | Mon 23 11:00 | order status | default | Tue 24 11:00 (8), due Mon 19:00: late | solved Thu 26 12:00 (20), due 11:00: late | two replies |
| C | Tue 24 09:00 | other | eu | 10:00 (1) | closed Wed 25 09:00 (4) | reopened once |
| D | Wed 25 09:00 | shipping | none | none, due 17:00: missed | open, due Fri 27 17:00: missed | |
| E | Thu 26 09:00 | product | default | 10:00 (1) | waiting for the customer | clock stopped |
| F | Sun 29 10:00 | other | default | none, due after now | open | undecided |
| P1 | Mon 16 10:00 | shipping | default | 11:00 (1) | solved Tue 17 10:00 (6) | one reply |
| P2 | Fri 20 10:00 | other | default | 16:00 (6) | solved Mon 23 15:00 (13) | one reply |
| O1 | Mon 2 10:00 | other | default | 11:00 (1) | on hold, due Thu 5: missed | |
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.connection import ConnectionDoesNotExist

from saleor_support_plugin import ports
from saleor_support_plugin.auth import requestor_from_user
from saleor_support_plugin.metrics.statistics import compute_statistics
from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.models import (
    FulfillmentSnapshot,
    OrderLineSnapshot,
    OrderSnapshot,
)
from saleor_support_plugin.ports import Ports, load_settings
from saleor_support_plugin.price_protection.models import PriceClaim
from saleor_support_plugin.standalone import load_settings as standalone_settings
from saleor_support_plugin.surveys.models import Survey
from saleor_support_plugin.tickets import services
from saleor_support_plugin.tickets.models import Ticket

from .factories import OrderSnapshotFactory, TicketFactory
from .fixtures.graphql import SupportApiClient, get_graphql_content

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
EU = "channel-eu"
DEFAULT = "default-channel"


def at(day: int, hour: int = 0, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


START, END, NOW = at(23), at(30), at(1, 12, month=12)
_numbers = count(1)


@pytest.fixture
def stats_config(support_config):
    support_config(
        business_timezone="Europe/Berlin",
        business_hours="09:00-17:00",
        holidays="2026-11-26",
        sla_first_response_hours="8",
        sla_resolution_hours="24",
        ticket_rate_limit_per_hour="0",
        support_staff_addresses="team@acme.example",
    )
    return load_settings()


def order(
    channel: str = DEFAULT, placed: datetime | None = None, **fields
) -> OrderSnapshot:
    return OrderSnapshotFactory.create(
        channel_slug=channel,
        placed_at=placed or at(1),
        currency="EUR" if channel == EU else "USD",
        **fields,
    )


def ticket(created: datetime, **fields) -> Ticket:
    with time_machine.travel(created, tick=False):
        return TicketFactory.create(**fields)


def make_tickets(settings, customer_user, staff_user):
    default_order = order(user_id=str(customer_user.pk))
    eu_order = order(EU)
    # A, through the services: an answer overnight, then solved while waiting.
    customer = requestor_from_user(customer_user)
    staff = requestor_from_user(staff_user)
    with time_machine.travel(at(23, 16), tick=False):
        a = services.ticket_create(
            requestor=customer,
            settings=settings,
            subject="Where is my parcel?",
            body="Not here yet",
            order_id=default_order.order_id,
            category="shipping",
        )
    with time_machine.travel(at(24, 10), tick=False):
        services.ticket_reply(
            requestor=staff, settings=settings, ticket=a, body="On its way"
        )
    with time_machine.travel(at(24, 15), tick=False):
        services.ticket_update(
            requestor=staff,
            settings=settings,
            ticket=Ticket.objects.get(pk=a.pk),
            status="solved",
        )
    ticket(
        at(23, 11),
        order=default_order,
        category="order_status",
        status="solved",
        first_responded_at=at(24, 11),
        first_response_due_at=at(23, 19),
        first_response_business_seconds=8 * HOUR,
        solved_at=at(26, 12),
        resolution_due_at=at(26, 11),
        resolution_business_seconds=20 * HOUR,
        staff_public_replies=2,
    )
    ticket(
        at(24, 9),
        order=eu_order,
        status="closed",
        first_responded_at=at(24, 10),
        first_response_due_at=at(24, 17),
        first_response_business_seconds=HOUR,
        closed_at=at(25, 9),
        resolution_due_at=at(27, 9),
        resolution_business_seconds=4 * HOUR,
        staff_public_replies=1,
        reopen_count=1,
    )
    ticket(
        at(25, 9),
        category="shipping",
        first_response_due_at=at(25, 17),
        resolution_due_at=at(27, 17),
    )
    ticket(
        at(26, 9),
        order=default_order,
        category="product_question",
        status="pending_customer",
        first_responded_at=at(26, 10),
        first_response_due_at=at(26, 17),
        first_response_business_seconds=HOUR,
        resolution_due_at=at(27, 17),
        paused_at=at(26, 10),
        staff_public_replies=1,
    )
    ticket(
        at(29, 10),
        order=default_order,
        first_response_due_at=at(1, 17, month=12),
        resolution_due_at=at(3, 17, month=12),
    )
    ticket(
        at(16, 10),
        order=default_order,
        category="shipping",
        status="solved",
        first_responded_at=at(16, 11),
        first_response_due_at=at(16, 18),
        first_response_business_seconds=HOUR,
        solved_at=at(17, 10),
        resolution_due_at=at(18, 10),
        resolution_business_seconds=6 * HOUR,
        staff_public_replies=1,
    )
    ticket(
        at(20, 10),
        order=default_order,
        status="solved",
        first_responded_at=at(20, 16),
        first_response_due_at=at(23, 10),
        first_response_business_seconds=6 * HOUR,
        solved_at=at(23, 15),
        resolution_due_at=at(25, 10),
        resolution_business_seconds=13 * HOUR,
        staff_public_replies=1,
    )
    ticket(
        at(2, 10),
        order=default_order,
        status="on_hold",
        first_responded_at=at(2, 11),
        first_response_due_at=at(2, 17),
        first_response_business_seconds=HOUR,
        resolution_due_at=at(5, 10),
        staff_public_replies=1,
    )
    return Ticket.objects.get(pk=a.pk)


def survey(kind: str, sent: datetime, score=None, answered=None, channel=DEFAULT):
    return Survey.objects.create(
        kind=kind,
        state="answered" if score is not None else "sent",
        customer_email=f"s{next(_numbers)}@example.com",
        channel_slug=channel,
        triggered_at=sent - timedelta(days=1),
        due_at=sent,
        sent_at=sent,
        score=score,
        answered_at=answered,
    )


def make_surveys():
    for score in (10, 9, 7, 3):
        survey("nps", at(23, 9), score, at(24, 9))
    survey("nps", at(20, 9), 8, at(23, 10))  # sent before, answered in the week
    survey("nps", at(24, 9))  # not answered
    survey("nps", at(18, 9))  # the week before, not answered
    for score in (5, 4, 2, 3):
        survey("csat", at(24, 9), score, at(25, 9))
    survey("csat", at(24, 9), 5, at(25, 9), channel=EU)


def claim(placed_order, created, state, amount, approved=None, refunded=None):
    number = next(_numbers)
    line = OrderLineSnapshot.objects.create(
        order=placed_order,
        line_id=f"line-{number}",
        product_name="Kettle",
        quantity=1,
        currency=placed_order.currency,
        unit_price_gross=Decimal("50"),
        undiscounted_unit_price_gross=Decimal("50"),
    )
    return PriceClaim.objects.create(
        number=number,
        idempotency_key=f"claim-{number}",
        order=placed_order,
        line=line,
        source="automatic",
        state=state,
        customer_email=placed_order.customer_email,
        channel_slug=placed_order.channel_slug,
        currency=placed_order.currency,
        paid_unit_price=Decimal("50"),
        new_unit_price=Decimal("40"),
        quantity=1,
        amount=Decimal(amount),
        approved_amount=Decimal(approved) if approved else None,
        refunded_at=refunded,
        created_at=created,
    )


def make_claims():
    usd, eur = order(), order(EU)
    claim(usd, at(24, 9), "refunded", "10.00", refunded=at(25, 9))
    claim(usd, at(25, 9), "pending_review", "5.00")
    claim(usd, at(20, 9), "refunded", "7.50", approved="6.00", refunded=at(24, 9))
    claim(eur, at(24, 9), "refunded", "3.00", refunded=at(26, 9))


def fulfillment(placed_order, status):
    number = next(_numbers)
    FulfillmentSnapshot.objects.create(
        order=placed_order,
        fulfillment_id=f"f-{number}",
        composed_id=f"{placed_order.number}-{number}",
        status=status,
        created_at=placed_order.placed_at,
        last_activity_at=placed_order.placed_at,
    )


def make_orders():
    order(placed=at(23, 12))
    order(EU, placed=at(24, 12))
    fulfillment(order(placed=at(25, 12)), "returned")
    fulfillment(order(placed=at(26, 12)), "fulfilled")
    fulfillment(order(placed=at(17, 12)), "refunded_and_returned")


def email(kind, sent, *, order_id, status="sent", channel="email"):
    Notification.objects.create(
        dedupe_key=f"n-{next(_numbers)}",
        kind=kind,
        channel=channel,
        order_id=order_id,
        recipient="buyer@example.com",
        next_attempt_at=sent,
        status=status,
        sent_at=sent if status == "sent" else None,
    )


def make_emails():
    default_order, eu_order = order(), order(EU)
    email("shipped", at(23, 12), order_id=default_order.order_id)
    email("shipped", at(24, 12), order_id=default_order.order_id)
    email("delivered", at(25, 12), order_id=eu_order.order_id)
    email("confirmed", at(17, 12), order_id=default_order.order_id)
    # Not proactive updates: a ticket email, a webhook, a failed email.
    email("ticket_reply", at(23, 12), order_id=default_order.order_id)
    email("shipped", at(23, 12), order_id=default_order.order_id, channel="webhook")
    email("shipped", at(23, 12), order_id=default_order.order_id, status="failed")


@pytest.fixture
def data_set(stats_config, customer_user, staff_user):
    a = make_tickets(stats_config, customer_user, staff_user)
    make_surveys()
    make_claims()
    make_orders()
    make_emails()
    return a


def values(stats) -> dict[str, tuple]:
    return {figure.key: (figure.value, figure.previous) for figure in stats.figures}


def test_ticket_a_took_its_durations_from_the_calendar_and_the_wait(data_set):
    # given / when: A (created through the services)
    a = data_set

    # then: Monday 16-17 + Tuesday 9-10 to the reply; solved at 15:00 after a
    # 5 h wait: 7 h open, 2 h without the wait
    assert a.first_response_business_seconds == 2 * HOUR
    assert a.paused_business_seconds == 5 * HOUR
    assert a.resolution_business_seconds == 2 * HOUR
    assert a.staff_public_replies == 1


def test_every_figure_against_hand_computed_answers(data_set, stats_config):
    # given: the data set in the module docstring

    # when
    stats = compute_statistics(channel=None, start=START, end=END, now=NOW)

    # then
    assert stats.previous_start == at(16)
    figures = values(stats)
    assert figures.pop("tickets_opened") == (6, 2)
    # A, B, C and P2 (solved Monday 15:00) / P1
    assert figures.pop("tickets_solved") == (4, 1)
    # at the end D, E, F, O1; at the start P2 and O1
    assert figures.pop("backlog") == (4, 2)
    # ages at the end 14, 87, 111, 662 h → 99; at the start 62, 494 h → 278
    assert figures.pop("backlog_age_median") == pytest.approx((99, 278))
    # first replies 1, 1, 2, 8 h: median 1.5, p90 2 + 0.7 × 6; before 1, 6 h
    assert figures.pop("first_response_median") == pytest.approx((1.5, 3.5))
    assert figures.pop("first_response_p90") == pytest.approx((6.2, 5.5))
    # resolutions 2, 4, 13, 20 h: median 8.5, p90 13 + 0.7 × 7; before 6 h
    assert figures.pop("resolution_median") == pytest.approx((8.5, 6))
    assert figures.pop("resolution_p90") == pytest.approx((17.9, 6))
    # A and P2 of four / P1 of one
    assert figures.pop("first_contact_resolution_rate") == (50, 100)
    assert figures.pop("reopen_rate") == (25, 0)
    # first response: A, C, E met, B and D missed (F undecided) / P1, P2 met
    assert figures.pop("sla_first_response") == (60, 100)
    # resolution: A, C, P2 met, B and D missed (E waits, F undecided) / P1 met
    assert figures.pop("sla_resolution") == (60, 100)
    # 5, 4, 2, 3, 5 → 3 of 5 / no answers
    assert figures.pop("csat") == (60, None)
    # 10, 9, 7, 3, 8: two promoters, one detractor of five / no answers
    assert figures.pop("nps") == (20, None)
    # sent in the week 10, answered 9; the week before 2, answered 1
    assert figures.pop("survey_response_rate") == (90, 50)
    # A, B, D of six / P1 of two
    assert figures.pop("wismo_share") == (50, 50)
    # orders placed: one of four returned / one of one (refunded and returned)
    assert figures.pop("return_rate") == (25, 100)
    assert figures.pop("price_claims_opened") == (3, 1)
    # 16.00 USD and 3.00 EUR do not add up
    assert figures.pop("price_refunded_amount") == (None, None)
    assert figures.pop("proactive_updates_sent") == (3, 1)
    assert figures.pop("deflection_rate") == (None, None)
    assert figures == {}
    assert stats.breakdowns == {
        "proactive_updates_sent": {"shipped": 2, "delivered": 1}
    }
    assert stats.previous_breakdowns == {"proactive_updates_sent": {"confirmed": 1}}
    assert stats.amounts == {
        "price_refunded_amount": {"USD": Decimal("16.00"), "EUR": Decimal("3.00")}
    }
    assert stats.previous_amounts == {"price_refunded_amount": {}}


def test_a_channel_counts_its_orders_tickets_surveys_claims_and_emails(
    data_set, stats_config
):
    # given: the data set; default-channel has tickets A, B, E, F (P1, P2 before)

    # when
    stats = compute_statistics(channel=DEFAULT, start=START, end=END, now=NOW)

    # then
    figures = values(stats)
    assert figures["tickets_opened"] == (4, 2)
    assert figures["tickets_solved"] == (3, 1)  # A, B, P2 / P1
    assert figures["backlog"] == (3, 2)  # E, F, O1 / P2, O1
    assert figures["wismo_share"] == (50, 50)  # A, B of four / P1 of two
    assert figures["csat"] == (50, None)  # 5, 4, 2, 3
    assert figures["return_rate"] == pytest.approx((100 / 3, 100))
    assert figures["price_claims_opened"] == (2, 1)
    money = stats.figure("price_refunded_amount")
    assert (money.value, money.previous, money.currency) == (
        Decimal("16.00"),
        Decimal("0"),
        "USD",
    )
    assert figures["proactive_updates_sent"] == (2, 1)
    assert figures["deflection_rate"] == (None, None)


def test_an_empty_period_has_counts_of_zero_and_no_rates(data_set, stats_config):
    # given: nothing happened in 2025

    # when
    stats = compute_statistics(
        channel=None,
        start=datetime(2025, 3, 1, tzinfo=UTC),
        end=datetime(2025, 4, 1, tzinfo=UTC),
        now=NOW,
    )

    # then
    figures = values(stats)
    zero = {
        "tickets_opened",
        "tickets_solved",
        "backlog",
        "price_claims_opened",
        "proactive_updates_sent",
    }
    assert {key: figures.pop(key) for key in zero} == dict.fromkeys(zero, (0, 0))
    assert figures.pop("price_refunded_amount") == (Decimal(0), Decimal(0))
    assert stats.figure("price_refunded_amount").currency == ""
    assert figures == dict.fromkeys(figures, (None, None))
    assert len(figures) == 15
    assert stats.breakdowns == {"proactive_updates_sent": {}}


def test_spam_and_merged_tickets_are_no_contact_and_count_nowhere(db, stats_config):
    # given three tickets opened on 24 November: one real, one spam, one merged away
    for tags in ([], ["spam"], ["vip", "merged"]):
        ticket(at(24, 10), tags=tags, category="shipping")
    # when the week's statistics are read
    stats = compute_statistics(channel=None, start=at(23), end=at(30), now=at(30))
    # then only the real one is opened, in the backlog and a WISMO contact
    figures = values(stats)
    assert figures["tickets_opened"] == (1, 0)
    assert figures["backlog"] == (1, 0)
    assert figures["wismo_share"] == (100, None)


def test_the_number_of_queries_does_not_grow_with_the_data(data_set, stats_config):
    # given
    def run() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            compute_statistics(channel=DEFAULT, start=START, end=END, now=NOW)
        return [query["sql"].split()[0] for query in queries.captured_queries]

    before = run()
    more_order = order()
    for day in range(23, 28):
        ticket(at(day, 10), order=more_order, status="solved", solved_at=at(day, 12))
        survey("csat", at(day, 9), 4, at(day, 10))
        email("delivered", at(day, 12), order_id=more_order.order_id)

    # when
    after = run()

    # then: tickets, surveys, claims, orders, emails (in a transaction that
    # switches JIT compilation off)
    assert before == after
    assert after == ["SAVEPOINT", "SET", *["SELECT"] * 5, "RELEASE"]


def replica_ports() -> Ports:
    return Ports(load_settings=standalone_settings, read_replica=lambda: "replica")


def test_reads_go_to_the_database_the_ports_name(stats_config, settings):
    # given: a host whose read replica is "replica" (not configured in tests)
    settings.SUPPORT_PLUGIN_PORTS = "tests.test_statistics:replica_ports"
    ports.get_ports.cache_clear()

    # when / then
    try:
        assert ports.read_replica() == "replica"
        with pytest.raises(ConnectionDoesNotExist):
            compute_statistics(channel=None, start=START, end=END, now=NOW)
    finally:
        ports.get_ports.cache_clear()


def test_the_sandbox_reads_from_its_writer(stats_config):
    # given / when / then
    assert ports.read_replica() == "default"


QUERY_STATISTICS = """
query stats($channel: String, $from: DateTime!, $to: DateTime!) {
  supportStatistics(channel: $channel, from: $from, to: $to) {
    channel from to previousFrom
    figures { key label unit value previous change currency }
    breakdowns { key label entries { key label value previous currency } }
  }
}
"""


def test_staff_read_the_statistics_over_graphql(data_set, staff_user):
    # given
    with time_machine.travel(NOW, tick=False):
        client = SupportApiClient(user=staff_user)

        # when
        content = get_graphql_content(
            client.post_graphql(
                QUERY_STATISTICS,
                {"from": START.isoformat(), "to": END.isoformat()},
            )
        )

    # then
    stats = content["data"]["supportStatistics"]
    assert stats["previousFrom"] == at(16).isoformat()
    figures = {figure["key"]: figure for figure in stats["figures"]}
    assert figures["tickets_opened"] == {
        "key": "tickets_opened",
        "label": "Tickets opened",
        "unit": "COUNT",
        "value": 6.0,
        "previous": 2.0,
        "change": 4.0,
        "currency": None,
    }
    assert figures["sla_first_response"]["change"] == -40.0
    assert figures["csat"]["change"] is None
    assert figures["nps"]["unit"] == "POINTS"
    assert figures["price_refunded_amount"]["value"] is None
    assert stats["breakdowns"] == [
        {
            "key": "proactive_updates_sent",
            "label": "Proactive updates sent, by kind",
            "entries": [
                {
                    "key": "shipped",
                    "label": "Shipped",
                    "value": 2.0,
                    "previous": 0.0,
                    "currency": None,
                },
                {
                    "key": "delivered",
                    "label": "Delivered",
                    "value": 1.0,
                    "previous": 0.0,
                    "currency": None,
                },
                {
                    "key": "confirmed",
                    "label": "Order confirmed",
                    "value": 0.0,
                    "previous": 1.0,
                    "currency": None,
                },
            ],
        },
        {
            "key": "price_refunded_amount",
            "label": "Price-protection refunds, by currency",
            "entries": [
                {
                    "key": "USD",
                    "label": "USD",
                    "value": 16.0,
                    "previous": 0.0,
                    "currency": "USD",
                },
                {
                    "key": "EUR",
                    "label": "EUR",
                    "value": 3.0,
                    "previous": 0.0,
                    "currency": "EUR",
                },
            ],
        },
    ]


def test_a_time_without_offset_is_read_in_the_business_time_zone(data_set, staff_user):
    # given
    with time_machine.travel(NOW, tick=False):
        client = SupportApiClient(user=staff_user)

        # when
        content = get_graphql_content(
            client.post_graphql(
                QUERY_STATISTICS,
                {
                    "from": "2026-11-23T00:00:00",
                    "to": "2026-11-30T00:00:00",
                    "channel": DEFAULT,
                },
            )
        )

    # then
    stats = content["data"]["supportStatistics"]
    assert (stats["channel"], stats["from"]) == (DEFAULT, at(23).isoformat())
    figures = {figure["key"]: figure for figure in stats["figures"]}
    assert figures["price_refunded_amount"]["value"] == 16.0
    assert figures["price_refunded_amount"]["currency"] == "USD"


@pytest.mark.parametrize(
    ("client_fixture", "code"),
    [
        ("customer_api_client", "PERMISSION_DENIED"),
        ("staff_without_permission_api_client", "PERMISSION_DENIED"),
        ("api_client", "PERMISSION_DENIED"),
    ],
)
def test_only_staff_with_the_permission_read_statistics(
    request, stats_config, client_fixture, code
):
    # given
    client = request.getfixturevalue(client_fixture)

    # when
    content = get_graphql_content(
        client.post_graphql(
            QUERY_STATISTICS, {"from": START.isoformat(), "to": END.isoformat()}
        ),
        ignore_errors=True,
    )

    # then
    assert content["data"] == {"supportStatistics": None}
    (error,) = content["errors"]
    assert error["extensions"] == {"code": code, "field": None}


@pytest.mark.parametrize(
    ("variables", "code", "field"),
    [
        ({"from": at(30).isoformat(), "to": at(23).isoformat()}, "INVALID", "to"),
        ({"from": at(23).isoformat(), "to": at(23).isoformat()}, "INVALID", "to"),
        (
            {
                "from": datetime(2025, 1, 1, tzinfo=UTC).isoformat(),
                "to": at(23).isoformat(),
            },
            "OUT_OF_RANGE",
            "to",
        ),
        # the week before the first days of year 1 does not exist
        (
            {"from": "0001-01-02T00:00:00+00:00", "to": "0001-01-09T00:00:00+00:00"},
            "OUT_OF_RANGE",
            "from",
        ),
        (
            {
                "from": at(23).isoformat(),
                "to": at(30).isoformat(),
                "channel": "x" * 256,
            },
            "INVALID",
            "channel",
        ),
    ],
)
def test_a_bad_period_is_refused_with_a_code(
    staff_api_client, stats_config, variables, code, field
):
    # given / when
    content = get_graphql_content(
        staff_api_client.post_graphql(QUERY_STATISTICS, variables), ignore_errors=True
    )

    # then
    assert content["data"] == {"supportStatistics": None}
    (error,) = content["errors"]
    assert error["extensions"] == {"code": code, "field": field}
