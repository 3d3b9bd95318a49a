"""SLA clocks stop while a ticket waits for the customer; durations in business hours.

Calendar of these tests: Europe/Berlin, Monday to Friday 09:00-17:00, and
Thursday 26 November 2026 a holiday. Normal priority: first response within
8 business hours, resolution within 24.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import requests
import time_machine

from saleor_support_plugin.auth import requestor_from_user
from saleor_support_plugin.core.calendar import BusinessCalendar
from saleor_support_plugin.metrics.statistics import compute_statistics
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.tickets import services
from saleor_support_plugin.tickets.email_threading import reply_address
from saleor_support_plugin.tickets.models import Ticket, TicketStatus
from saleor_support_plugin.tickets.sla import check_sla_breaches

from .fixtures.support import signed_carrier_request
from .test_inbound_email import SECRET, mail
from .test_inbound_email import URL as INBOUND_URL

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


SLA_CONFIG = {
    "business_timezone": "Europe/Berlin",
    "business_hours": "09:00-17:00",
    "holidays": "2026-11-26",
    "sla_first_response_hours": "8",
    "sla_resolution_hours": "24",
    "sla_policies": "urgent=1/4",
    "ticket_rate_limit_per_hour": "0",
    "support_staff_addresses": "team@acme.example",
}


@pytest.fixture
def sla_settings(support_config):
    support_config(**SLA_CONFIG)
    return load_settings()


@pytest.fixture
def customer(customer_user):
    return requestor_from_user(customer_user)


@pytest.fixture
def staff(staff_user):
    return requestor_from_user(staff_user)


def open_ticket(customer, settings, moment: datetime) -> Ticket:
    with time_machine.travel(moment, tick=False):
        return services.ticket_create(
            requestor=customer,
            settings=settings,
            subject="Where is my parcel?",
            body="It has not arrived.",
        )


def reply(requestor, settings, ticket: Ticket, moment: datetime) -> Ticket:
    with time_machine.travel(moment, tick=False):
        services.ticket_reply(
            requestor=requestor, settings=settings, ticket=ticket, body="Thanks!"
        )
    return Ticket.objects.get(pk=ticket.pk)


def set_status(staff, settings, ticket: Ticket, status: str, moment: datetime):
    with time_machine.travel(moment, tick=False):
        services.ticket_update(
            requestor=staff, settings=settings, ticket=ticket, status=status
        )
    return Ticket.objects.get(pk=ticket.pk)


def test_business_seconds_across_evenings_weekends_holidays_and_dst(sla_settings):
    # given
    calendar = BusinessCalendar.from_settings(sla_settings)

    # when / then
    # same day, starting before opening and ending after closing
    assert calendar.business_seconds(at(23, 7), at(23, 20)) == 8 * HOUR
    # overnight: Monday 16:00 → Tuesday 10:00 is 1 h + 1 h
    assert calendar.business_seconds(at(23, 16), at(24, 10)) == 2 * HOUR
    # weekend: Friday 16:30 → Monday 9:30 is 30 min + 30 min
    assert calendar.business_seconds(at(20, 16, 30), at(23, 9, 30)) == HOUR
    # holiday: Wednesday 16:00 → Friday 10:00 skips Thursday the 26th
    assert calendar.business_seconds(at(25, 16), at(27, 10)) == 2 * HOUR
    # the clocks go back on Sunday 25 October: Friday 16:00 → Monday 10:00 is still 2 h
    assert (
        calendar.business_seconds(at(23, 16, month=10), at(26, 10, month=10))
        == 2 * HOUR
    )
    # nothing outside business hours, nothing backwards
    assert calendar.business_seconds(at(21, 10), at(22, 18)) == 0
    assert calendar.business_seconds(at(24, 10), at(23, 10)) == 0


def test_a_wait_moves_the_due_times_and_is_left_out_of_the_durations(
    sla_settings, customer, staff
):
    # given: opened Friday 10:00: first response due Monday 10:00, resolution
    # (24 h: Friday 7 + Monday 8 + Tuesday 8 + Wednesday 1) Wednesday 10:00
    ticket = open_ticket(customer, sla_settings, at(20, 10))
    assert ticket.first_response_due_at == at(23, 10)
    assert ticket.resolution_due_at == at(25, 10)

    # when: staff answer Friday 15:00; the customer answers Tuesday 11:00
    ticket = reply(staff, sla_settings, ticket, at(20, 15))
    assert ticket.status == TicketStatus.PENDING_CUSTOMER
    assert ticket.paused_at == at(20, 15)
    ticket = reply(customer, sla_settings, ticket, at(24, 11))

    # then: the wait was Friday 2 h + Monday 8 h + Tuesday 2 h = 12 business hours;
    # resolution moves from Wednesday 10:00 by 12 h: Wednesday 7 h, Thursday is a
    # holiday, Friday 5 h → Friday 27th 14:00; the first response was met and stays
    assert ticket.status == TicketStatus.OPEN
    assert ticket.paused_at is None
    assert ticket.paused_business_seconds == 12 * HOUR
    assert ticket.first_response_business_seconds == 5 * HOUR
    assert ticket.first_response_due_at == at(23, 10)
    assert ticket.resolution_due_at == at(27, 14)

    # when: solved Wednesday 16:00
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.SOLVED, at(25, 16))

    # then: Friday 7 + Monday 8 + Tuesday 8 + Wednesday 7 = 30 h, minus the 12 h wait
    assert ticket.resolution_business_seconds == 18 * HOUR
    assert ticket.staff_public_replies == 1


def test_a_waiting_ticket_does_not_breach_and_breaches_after_its_moved_due_time(
    sla_settings, customer, staff
):
    # given: opened Monday 9:00 (resolution due Wednesday 17:00), answered at once
    ticket = open_ticket(customer, sla_settings, at(23, 9))
    assert ticket.resolution_due_at == at(25, 17)
    reply(staff, sla_settings, ticket, at(23, 9))
    settings = load_settings()

    # when / then: long past the first due time, waiting: no breach
    assert check_sla_breaches(now=at(27, 12), settings=settings) == []

    # when: the customer answers Monday 30th 9:00 (waited Monday to Friday but
    # the holiday: 32 h), so resolution is due 32 h after Wednesday 17:00:
    # Friday, Monday, Tuesday, Wednesday 2 December until 17:00
    ticket = reply(customer, sla_settings, ticket, at(30, 9))
    assert ticket.paused_business_seconds == 32 * HOUR
    assert ticket.resolution_due_at == at(2, 17, month=12)

    # then: not breached before the moved due time, breached once after it
    assert check_sla_breaches(now=at(2, 16, month=12), settings=settings) == []
    assert check_sla_breaches(now=at(2, 17, 1, month=12), settings=settings) == [
        (ticket.number, "resolution")
    ]


def test_solving_while_waiting_ends_the_wait(sla_settings, customer, staff):
    # given: opened Monday 16:00, answered Monday 16:30
    ticket = open_ticket(customer, sla_settings, at(23, 16))
    ticket = reply(staff, sla_settings, ticket, at(23, 16, 30))

    # when: staff solve it Tuesday 10:00 without hearing back
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.SOLVED, at(24, 10))

    # then: the wait (30 min Monday + 1 h Tuesday) is not resolution time
    assert ticket.paused_at is None
    assert ticket.paused_business_seconds == 90 * 60
    assert ticket.first_response_business_seconds == 30 * 60
    assert ticket.resolution_business_seconds == 30 * 60


def test_an_answer_during_a_wait_counts_the_wait_for_the_first_response(
    sla_settings, customer, staff
):
    # given: opened Monday 9:00 (first response due 17:00); staff ask the
    # customer to wait at 10:00 without writing (status only)
    ticket = open_ticket(customer, sla_settings, at(23, 9))
    assert ticket.first_response_due_at == at(23, 17)
    ticket = set_status(
        staff, sla_settings, ticket, TicketStatus.PENDING_CUSTOMER, at(23, 10)
    )

    # when: staff write the first reply Tuesday 11:00, still waiting
    ticket = reply(staff, sla_settings, ticket, at(24, 11))

    # then: 1 h of work before the wait; the wait so far (Monday 7 h + Tuesday 2 h)
    # moves the first-response due time from Monday 17:00 to Wednesday 10:00: met
    assert ticket.first_response_business_seconds == HOUR
    assert ticket.first_response_due_at == at(25, 10)
    assert ticket.first_responded_at == at(24, 11)
    assert ticket.paused_at == at(23, 10)  # still waiting for the customer


def test_a_wait_after_a_missed_target_does_not_make_it_met(
    sla_settings, customer, staff
):
    # given: opened Monday 9:00, first response due 17:00; nobody answers, and
    # on Tuesday 9:00 staff set it to wait for the customer
    ticket = open_ticket(customer, sla_settings, at(23, 9))
    ticket = set_status(
        staff, sla_settings, ticket, TicketStatus.PENDING_CUSTOMER, at(24, 9)
    )

    # when: staff set it back to open Tuesday 13:00
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.OPEN, at(24, 13))

    # then: the due time moved by the 4 h wait, to Tuesday 13:00: still in the past
    assert ticket.first_response_due_at == at(24, 13)
    assert check_sla_breaches(now=at(24, 13, 1), settings=load_settings()) == [
        (ticket.number, "first response")
    ]


def test_a_priority_change_after_a_wait_keeps_the_wait(sla_settings, customer, staff):
    # given: opened Monday 9:00, answered 10:00, the customer answers Tuesday 10:00
    # (waited 8 h)
    ticket = open_ticket(customer, sla_settings, at(23, 9))
    ticket = reply(staff, sla_settings, ticket, at(23, 10))
    ticket = reply(customer, sla_settings, ticket, at(24, 10))
    assert ticket.paused_business_seconds == 8 * HOUR

    # when: staff make it urgent (1 h / 4 h)
    with time_machine.travel(at(24, 10, 30), tick=False):
        services.ticket_update(
            requestor=staff, settings=sla_settings, ticket=ticket, priority="urgent"
        )
    ticket.refresh_from_db()

    # then: resolution 4 h + the 8 h wait from Monday 9:00 → Tuesday 13:00; first
    # response 1 h with no wait before the reply → Monday 10:00
    assert ticket.resolution_due_at == at(24, 13)
    assert ticket.first_response_due_at == at(23, 10)


def test_a_customer_answer_to_a_solved_ticket_reopens_it(sla_settings, customer, staff):
    # given: a ticket solved Monday 12:00
    ticket = open_ticket(customer, sla_settings, at(23, 9))
    ticket = reply(staff, sla_settings, ticket, at(23, 10))
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.SOLVED, at(23, 12))
    assert ticket.resolution_business_seconds == HOUR  # 3 h, waited 2 h

    # when: the customer writes back Tuesday 9:00
    ticket = reply(customer, sla_settings, ticket, at(24, 9))

    # then
    assert ticket.status == TicketStatus.OPEN
    assert ticket.reopen_count == 1
    assert ticket.solved_at is None
    assert ticket.resolution_business_seconds is None


def test_closing_and_reopening_keep_the_durations_in_step(
    sla_settings, customer, staff
):
    # given: answered Monday 10:00 (waiting), closed by the customer Monday 11:00
    ticket = open_ticket(customer, sla_settings, at(23, 9))
    ticket = reply(staff, sla_settings, ticket, at(23, 10))
    with time_machine.travel(at(23, 11), tick=False):
        services.ticket_close(requestor=customer, settings=sla_settings, ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.paused_at is None
    assert ticket.paused_business_seconds == HOUR
    assert ticket.resolution_business_seconds == HOUR

    # when: reopened Monday 12:00 and solved Monday 15:00
    with time_machine.travel(at(23, 12), tick=False):
        services.ticket_reopen(requestor=customer, settings=sla_settings, ticket=ticket)
    ticket.refresh_from_db()
    assert ticket.resolution_business_seconds is None
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.SOLVED, at(23, 15))

    # then: 6 h since opening, minus the 1 h wait
    assert ticket.resolution_business_seconds == 5 * HOUR
    assert ticket.reopen_count == 1


def test_internal_notes_neither_answer_nor_pause(sla_settings, customer, staff):
    # given
    ticket = open_ticket(customer, sla_settings, at(23, 9))

    # when
    with time_machine.travel(at(23, 10), tick=False):
        services.ticket_reply(
            requestor=staff,
            settings=sla_settings,
            ticket=ticket,
            body="Checking with the warehouse",
            internal=True,
        )
    ticket.refresh_from_db()

    # then
    assert ticket.first_responded_at is None
    assert ticket.first_response_business_seconds is None
    assert ticket.staff_public_replies == 0
    assert ticket.paused_at is None
    assert ticket.created_at.astimezone(UTC) == at(23, 9).astimezone(UTC)
    assert ticket.first_response_due_at is not None
    assert ticket.first_response_due_at - ticket.created_at == timedelta(hours=8)


# --- reopening: whichever path puts a resolved ticket back to work
#
# The statistics read `solved_at`, `closed_at` and `reopen_count`: a reopened
# ticket must lose its old resolution, or it counts as solved in a week it was
# still being worked on, with a resolution time that ended too early.


def figure(stats, key: str):
    (value,) = [f.value for f in stats.figures if f.key == key]
    return value


def test_staff_reopening_a_solved_ticket_moves_its_resolution_to_the_next_one(
    sla_settings, customer, staff
):
    # given a ticket opened on Monday 16 November and solved on the 17th
    ticket = open_ticket(customer, sla_settings, at(16, 10))
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.SOLVED, at(17, 10))
    assert ticket.resolution_business_seconds == 8 * 3600
    # when staff reopen it on the 24th and close it on the 25th
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.OPEN, at(24, 10))
    # then the reopen is counted and the old resolution is gone
    assert (ticket.reopen_count, ticket.solved_at, ticket.closed_at) == (1, None, None)
    assert ticket.resolution_business_seconds is None
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.CLOSED, at(25, 10))
    assert (ticket.solved_at, ticket.closed_at) == (None, at(25, 10))
    # and it counts as resolved in the week of the 23rd, reopened, not in the week before
    week_before = compute_statistics(channel=None, start=at(16, 0), end=at(23, 0))
    week = compute_statistics(channel=None, start=at(23, 0), end=at(30, 0))
    assert figure(week_before, "tickets_solved") == 0
    assert figure(week, "tickets_solved") == 1
    assert figure(week, "reopen_rate") == 100


def test_a_staff_word_after_solving_leaves_the_ticket_solved(
    sla_settings, customer, staff
):
    # given a solved ticket
    ticket = open_ticket(customer, sla_settings, at(16, 10))
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.SOLVED, at(16, 12))
    # when staff add a public reply afterwards
    ticket = reply(staff, sla_settings, ticket, at(16, 14))
    # then it stays solved, not reopened
    assert (ticket.status, ticket.solved_at, ticket.reopen_count) == (
        TicketStatus.SOLVED,
        at(16, 12),
        0,
    )
    # and the customer's answer to it reopens it
    ticket = reply(customer, sla_settings, ticket, at(16, 15))
    assert (ticket.status, ticket.solved_at, ticket.reopen_count) == (
        TicketStatus.OPEN,
        None,
        1,
    )


@pytest.mark.django_db(transaction=True)
def test_an_email_reply_to_a_closed_ticket_reopens_it_with_its_resolution_cleared(
    live_server, sla_settings, customer, staff, support_config
):
    # given the inbound webhook configured with the SLA calendar
    support_config(
        **SLA_CONFIG,
        inbound_email_secret=SECRET,
        inbound_email_address="support@acme.example",
    )
    # and Alice's ticket, solved and then closed
    ticket = open_ticket(customer, sla_settings, at(16, 10))
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.SOLVED, at(16, 12))
    ticket = set_status(staff, sla_settings, ticket, TicketStatus.CLOSED, at(17, 12))
    assert ticket.resolution_business_seconds == 2 * 3600
    # when she answers its email two days later
    with time_machine.travel(at(19, 10), tick=True):
        raw, headers = signed_carrier_request(
            mail(
                to=[reply_address(ticket, load_settings())],
                message_id="<reopen@x>",
                text="It broke again.",
            ),
            secret=SECRET,
        )
        response = requests.post(
            f"{live_server.url}{INBOUND_URL}",
            data=raw,
            headers={"Content-Type": "application/json", **headers},
            timeout=10,
        )
    assert response.json() == {"status": "replied", "ticket": ticket.number}
    # then the ticket is open again, the reopen counted, the resolution gone
    ticket = Ticket.objects.get(pk=ticket.pk)
    assert ticket.status == TicketStatus.OPEN
    assert (ticket.reopen_count, ticket.solved_at, ticket.closed_at) == (1, None, None)
    assert ticket.resolution_business_seconds is None
