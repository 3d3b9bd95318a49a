"""Surveys as the product runs them: a real Celery worker, four tasks at once, real SMTP.

The lifecycle tests run the task in the test process with frozen time; here the
periodic task is enqueued many times at once on a real broker (beat overlapping
itself, several workers), at the real time, and every customer must still get
exactly the surveys they are owed: one per customer, the quiet period and the
gap between a ticket's and an order's survey kept, nothing lost.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.surveys.models import Survey, SurveyState
from saleor_support_plugin.tasks import surveys_task
from saleor_support_plugin.tickets.models import TicketStatus

from .factories import SaleorUserFactory, TicketFactory
from .fixtures.price_protection import buy
from .test_event_order import settled, wait_until
from .test_survey_lifecycle import at, deliver, ship

pytestmark = pytest.mark.services

SURVEY_SUBJECT = "How did we do with"


def survey_mails(smtp_server) -> Counter[str]:
    """Count the survey emails each address got."""
    return Counter(
        address
        for mail in smtp_server.messages
        if mail.subject.startswith(SURVEY_SUBJECT)
        for address in mail.envelope_to
    )


def test_overlapping_survey_tasks_on_four_workers_send_each_customer_one_survey(
    concurrent_celery_worker,
    smtp_server,
    support_config,
    post_carrier_event,
    on_commit,
):
    # given the worker's configuration (the sandbox's, as the worker process
    # reads it): surveys on, a week after delivery, through the real SMTP server
    support_config(smtp_url=smtp_server.url)
    now = datetime.now(UTC)
    # and twenty customers with two orders each and five with one, shipped ten
    # days ago; the worker processes Saleor's hooks as they come
    twice = [SaleorUserFactory.create(email=f"twice{n}@example.com") for n in range(20)]
    once = [SaleorUserFactory.create(email=f"once{n}@example.com") for n in range(5)]
    shipments = []
    with at(now - timedelta(days=10)):
        # A customer's two orders side by side: two workers take them at once.
        for customer in [*(c for c in twice for _ in "ab"), *once]:
            order, _ = buy(user=customer)
            tracking = f"W-{order.number}"
            ship(order, on_commit, tracking)
            shipments.append(tracking)
    wait_until(settled, timeout=120, message="the shipments to be processed")
    # and the carrier reported every parcel delivered eight days ago
    for second, tracking in enumerate(shipments):
        with at(now - timedelta(days=8) + timedelta(seconds=second)):
            deliver(post_carrier_event, tracking)
    wait_until(settled, timeout=120, message="the deliveries to be processed")
    # and the once-customers also had a ticket solved two days ago (CSAT due too)
    for customer in once:
        TicketFactory.create(
            customer_email=customer.email,
            status=TicketStatus.SOLVED,
            solved_at=now - timedelta(days=2),
        )
    mails_before = len(smtp_server.messages)

    # when the periodic task is enqueued eight times at once
    for _ in range(8):
        surveys_task.delay()

    # then every survey is decided: none is left scheduled but the gap's waits
    def decided() -> bool:
        return (
            Survey.objects.count() == 2 * len(twice) + 2 * len(once)
            and not Survey.objects.filter(
                state=SurveyState.SCHEDULED, reason=""
            ).exists()
            and settled()
        )

    wait_until(decided, timeout=120, message="every survey to be decided")
    time.sleep(1)  # would a duplicate arrive?
    # and each customer got exactly one survey email
    got = survey_mails(smtp_server)
    assert len(smtp_server.messages) - mails_before == len(twice) + len(once)
    assert got == Counter({customer.email: 1 for customer in [*twice, *once]})
    # and each twice-customer's other order is cancelled for the quiet period
    for customer in twice:
        states = sorted(
            (survey.state, survey.reason)
            for survey in Survey.objects.filter(customer_email=customer.email)
        )
        assert states == [
            (SurveyState.CANCELLED, "the customer got a survey in the last 90 days"),
            (SurveyState.SENT, ""),
        ], customer.email
    # and each once-customer's second survey (of the other kind) waits for the gap
    for customer in once:
        surveys = Survey.objects.filter(customer_email=customer.email)
        assert sorted(survey.kind for survey in surveys) == ["csat", "nps"]
        (waiting,) = surveys.filter(state=SurveyState.SCHEDULED)
        assert waiting.reason.startswith(
            "waiting: the customer got another survey on "
        ), waiting.reason
        assert surveys.filter(state=SurveyState.SENT).count() == 1
    # and the outbox holds exactly those survey emails, all sent
    rows = Notification.objects.filter(kind__in=("survey_nps", "survey_csat"))
    assert rows.count() == len(twice) + len(once)
    assert not rows.exclude(status=NotificationStatus.SENT).exists()
