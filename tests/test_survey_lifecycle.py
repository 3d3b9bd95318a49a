"""Surveys end to end: real orders, carrier news, a real SMTP server and frozen time.

Orders go through the sandbox and the plugin's hooks, delivery comes through the
signed carrier webhook (so `FulfillmentSnapshot.delivered_at` is set the real
way), tickets through the GraphQL API, and the periodic `surveys_task` plans and
sends. Score links are read back from the message the SMTP server received.
"""

from __future__ import annotations

import html
import re
import threading
from base64 import urlsafe_b64decode
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from saleor_support_plugin.auth import requestor_from_user
from saleor_support_plugin.core.errors import PermissionDenied
from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.notifications.unsubscribe import make_token
from saleor_support_plugin.orders.models import OrderSnapshot
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.saleor import hooks
from saleor_support_plugin.surveys import models as surveys
from saleor_support_plugin.surveys import services
from saleor_support_plugin.surveys.models import Survey, SurveyState
from saleor_support_plugin.surveys.scheduling import plan_surveys, send_due_surveys
from saleor_support_plugin.surveys.tokens import make_survey_token
from saleor_support_plugin.tasks import surveys_task
from saleor_support_plugin.tickets.models import RoutingRule, Ticket
from sandbox.order.models import Fulfillment, FulfillmentLine
from sandbox.services.smtp import ReceivedMail

from .factories import (
    SaleorUserFactory,
    fulfill,
    refund,
    return_items,
    set_status,
)
from .fixtures.graphql import PLUGIN_URL
from .fixtures.price_protection import buy
from .fixtures.support import carrier_event
from .test_ticket_api import (
    MUTATION_TICKET_CREATE,
    MUTATION_TICKET_REPLY,
    MUTATION_UPDATE,
    create_input,
    data_of,
    oid,
    tid,
)

STAFF = "team@acme.example"
SURVEY_PATH = f"{PLUGIN_URL}/survey/"
# A Monday; every moment of these tests is frozen relative to it (before the
# real date, so the API clients' access tokens stay valid).
T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
DELIVERED = T0 + timedelta(days=1)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)

HREF = re.compile(r'<a href="([^"]+)"[^>]*>\s*(\d+)\s*</a>')
TEXT_LINK = re.compile(r"^(\d+): (\S+)\s*$", re.MULTILINE)


@pytest.fixture
def survey_config(mail_config):
    """Surveys on, sent through the real SMTP server; staff emails go to the team."""

    def configure(**values: Any) -> None:
        mail_config(
            **{"surveys_enabled": True, "support_staff_addresses": STAFF, **values}
        )

    configure()
    return configure


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def ship(order, on_commit, tracking: str):
    """Ship like Saleor's orderFulfill: tracking hook, fulfillment_created, order_fulfilled."""
    fulfillment = fulfill(order, tracking_number=tracking)
    on_commit(hooks.tracking_number_updated, fulfillment)
    on_commit(hooks.fulfillment_created, fulfillment)
    on_commit(hooks.order_fulfilled, order)
    return fulfillment


def deliver(post_carrier_event, tracking: str) -> None:
    """Report delivery now, as the carrier does: through the signed webhook."""
    response = post_carrier_event(
        carrier_event(
            event_id=f"delivered-{tracking}",
            tracking_number=tracking,
            status="delivered",
            description="Delivered to the front door",
            occurred_at=timezone.now().isoformat(),
        )
    )
    assert response.status_code == 202, response.content


_tracking_numbers = iter(range(10_000, 99_999))


def delivered_order(
    on_commit,
    post_carrier_event,
    *,
    shipped_at: datetime = T0,
    delivered_at: datetime | None = DELIVERED,
    **order_fields: Any,
):
    """Buy and ship an order at `shipped_at`; the carrier reports delivery at `delivered_at`."""
    tracking = f"TRK-{next(_tracking_numbers)}"
    with at(shipped_at):
        order, _ = buy(**order_fields)
        ship(order, on_commit, tracking)
    if delivered_at is not None:
        with at(delivered_at):
            deliver(post_carrier_event, tracking)
    return order


def run_surveys(on_commit, moment: datetime) -> None:
    """Run the periodic task at `moment`; its emails go out after its commits (eager Celery)."""
    with at(moment):
        on_commit(surveys_task)


def survey_of(order) -> Survey:
    return Survey.objects.get(kind="nps", order__order_id=str(order.pk))


def snapshot_of(order) -> OrderSnapshot:
    return OrderSnapshot.objects.get(order_id=str(order.pk))


def nps_mails(smtp_server, order) -> list[ReceivedMail]:
    subjects = (
        f"How did we do with order #{order.number}?",
        f"Wie waren wir bei Bestellung #{order.number}?",
    )
    return [mail for mail in smtp_server.messages if mail.subject in subjects]


def csat_mails(smtp_server, ticket) -> list[ReceivedMail]:
    return [
        mail
        for mail in smtp_server.messages
        if mail.subject == f"How did we do with {ticket.reference}?"
    ]


def score_links(mail: ReceivedMail) -> dict[int, str]:
    """Return the score links of a survey email (the HTML buttons, equal to the text lines)."""
    in_html = {
        int(score): html.unescape(url) for url, score in HREF.findall(mail.body("html"))
    }
    in_text = {int(score): url for score, url in TEXT_LINK.findall(mail.body("plain"))}
    assert in_html == in_text
    return in_html


def link_parts(url: str) -> tuple[str, str, int | None]:
    """(path, token, score) of a survey link, checked to point at the plugin's page."""
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "http",
        "testserver",
        SURVEY_PATH,
    )
    query = parse_qs(parts.query)
    score = query.get("score")
    return parts.path, query["token"][0], int(score[0]) if score else None


def token_of(mail: ReceivedMail) -> str:
    tokens = {link_parts(url)[1] for url in score_links(mail).values()}
    assert len(tokens) == 1
    return tokens.pop()


HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
CHECKED = re.compile(
    r'<input type="radio" name="score" id="[^"]+" value="(\d+)" checked'
)


def every_survey() -> list[Any]:
    return list(Survey.objects.order_by("pk").values())


def post_form(client, fields: dict[str, Any]):
    """POST the survey page's form, encoded as a browser encodes it."""
    return client.post(
        SURVEY_PATH, urlencode(fields), content_type="application/x-www-form-urlencoded"
    )


def click(client, url: str):
    """Follow a score link as a browser does; return the page the score's POST shows.

    The GET (what mail scanners fetch too) only shows the page with the score
    chosen, recording nothing; the page's script then posts that score.
    """
    before = every_survey()
    page = client.get(url)
    assert page.status_code == 200, page.content
    assert every_survey() == before
    content = page.content.decode()
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(content)}
    (chosen,) = CHECKED.findall(content)
    assert int(chosen) == link_parts(url)[2]
    response = post_form(
        client, {**fields, "action": "score", "score": chosen, "comment": ""}
    )
    assert response.status_code == 200, response.content
    assert f"We recorded your score of {chosen}." in response.content.decode()
    return response


def answer(client, token: str, score: int, comment: str = "", may_quote: bool = False):
    """Press "Send" on the survey page: score, comment and the quote permission."""
    fields = {"token": token, "action": "submit", "score": score, "comment": comment}
    if may_quote:
        fields["may_quote"] = "yes"
    response = post_form(client, fields)
    assert response.status_code == 200, response.content
    assert "Thank you for your feedback." in response.content.decode()
    return response


def submit(token: str, score: Any, comment: str = "", may_quote: bool = False):
    return services.submit_answer(
        token=token,
        score=score,
        comment=comment,
        may_quote=may_quote,
        settings=load_settings(),
    )


def coded(exc: ValidationError) -> tuple[str, str]:
    ((field, errors),) = exc.error_dict.items()
    (only,) = errors
    return field, str(only.code)


def sent_survey(on_commit, post_carrier_event, smtp_server, **order_fields: Any):
    """Return a delivered order whose survey went out a week later, the survey, the email."""
    order = delivered_order(on_commit, post_carrier_event, **order_fields)
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    (mail,) = nps_mails(smtp_server, order)
    return order, survey_of(order), mail


def row(survey: Survey) -> Any:
    """Everything stored about a survey, to compare before and after a refused request."""
    return Survey.objects.filter(pk=survey.pk).values().get()


# --- post-purchase NPS: when it goes


def test_nps_goes_survey_delay_days_after_the_carriers_delivery_news(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given surveys 3 days after delivery
    survey_config(survey_delay_days="3")
    order = delivered_order(on_commit, post_carrier_event, user__first_name="Alice")
    snapshot = snapshot_of(order)
    (shipment,) = snapshot.fulfillments.all()
    assert shipment.delivered_at == DELIVERED
    # when the task runs an hour after the delivery news
    run_surveys(on_commit, DELIVERED + HOUR)
    # then the survey is planned from the delivery, not sent yet
    survey = survey_of(order)
    assert (survey.state, survey.trigger) == (SurveyState.SCHEDULED, "delivery")
    assert (survey.triggered_at, survey.due_at) == (DELIVERED, DELIVERED + 3 * DAY)
    assert survey.customer_email == snapshot.customer_email
    # and a minute before it is due nothing goes out
    run_surveys(on_commit, DELIVERED + 3 * DAY - MINUTE)
    assert nps_mails(smtp_server, order) == []
    # when it is due
    run_surveys(on_commit, DELIVERED + 3 * DAY)
    # then the customer gets it through SMTP with the eleven score links
    (mail,) = nps_mails(smtp_server, order)
    assert mail.envelope_to == (snapshot.customer_email,)
    assert mail.message["From"] == "Acme Support <support@acme.example>"
    text = mail.body("plain")
    assert "Hi Alice," in text
    assert (
        "How likely are you to recommend Acme Support to a friend or colleague?" in text
    )
    links = score_links(mail)
    assert sorted(links) == list(range(11))
    assert {score: link_parts(url)[2] for score, url in links.items()} == {
        score: score for score in range(11)
    }
    survey.refresh_from_db()
    assert survey.state == SurveyState.SENT
    assert survey.sent_at == DELIVERED + 3 * DAY
    assert survey.expires_at == survey.sent_at + 30 * DAY
    # and later runs send nothing again
    run_surveys(on_commit, DELIVERED + 4 * DAY)
    assert len(nps_mails(smtp_server, order)) == 1


def test_without_carrier_news_the_survey_counts_from_fulfillment_after_the_wait(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a 3-day survey delay and a 5-day wait for carrier news
    survey_config(survey_delay_days="3", survey_carrier_wait_days="5")
    order = delivered_order(on_commit, post_carrier_event, delivered_at=None)
    # when the carrier stays silent: before the wait is over nothing is planned
    run_surveys(on_commit, T0 + 5 * DAY - MINUTE)
    assert not Survey.objects.exists()
    # when the wait is over
    run_surveys(on_commit, T0 + 5 * DAY)
    # then the survey counts from shipping and goes at once (3 days have passed)
    survey = survey_of(order)
    assert survey.trigger == "fulfillment (no delivery news)"
    assert (survey.triggered_at, survey.due_at) == (T0, T0 + 5 * DAY)
    assert survey.state == SurveyState.SENT
    assert len(nps_mails(smtp_server, order)) == 1


def test_survey_start_fulfillment_counts_from_shipping_despite_delivery_news(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given surveys counted from fulfillment, 3 days
    survey_config(survey_start="fulfillment", survey_delay_days="3")
    order = delivered_order(on_commit, post_carrier_event, delivered_at=T0 + 2 * DAY)
    # when the task runs after the carrier's delivery news
    run_surveys(on_commit, T0 + 2 * DAY + HOUR)
    # then the survey counts from shipping, not from the delivery
    survey = survey_of(order)
    assert (survey.trigger, survey.triggered_at, survey.due_at) == (
        "fulfillment",
        T0,
        T0 + 3 * DAY,
    )
    run_surveys(on_commit, T0 + 3 * DAY - MINUTE)
    assert nps_mails(smtp_server, order) == []
    run_surveys(on_commit, T0 + 3 * DAY)
    assert len(nps_mails(smtp_server, order)) == 1


def test_planning_and_sending_twice_make_one_survey_and_one_email(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a delivered order
    order = delivered_order(on_commit, post_carrier_event)
    settings = load_settings()
    # when planning runs twice
    with at(DELIVERED + HOUR):
        first = plan_surveys(settings=settings)
        second = plan_surveys(settings=settings)
    # then it planned one survey
    assert (first.nps, second.nps) == (1, 0)
    assert Survey.objects.count() == 1
    # and sending twice sends one email
    with at(DELIVERED + 7 * DAY):
        sent = []
        on_commit(lambda: sent.append(send_due_surveys(settings=settings)))
        on_commit(lambda: sent.append(send_due_surveys(settings=settings)))
    assert sent == [1, 0]
    assert len(nps_mails(smtp_server, order)) == 1


def race(work) -> list[Any]:
    """Run `work` in two threads at once (connections of their own); return their results."""
    barrier = threading.Barrier(2)
    results: list[Any] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(work())
        except BaseException as exc:  # surfaced below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    return results


def test_concurrent_planning_and_sending_make_one_survey_per_order(
    transactional_db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given twelve delivered orders (committed: the threads have connections of their own)
    orders = [delivered_order(on_commit, post_carrier_event) for _ in range(12)]
    settings = load_settings()

    # when two workers plan at the same moment
    with at(DELIVERED + HOUR):
        planned = race(lambda: plan_surveys(settings=settings).nps)
    # then every order has exactly one survey and the two counted each once
    assert sum(planned) == 12
    assert sorted(Survey.objects.values_list("order__order_id", flat=True)) == sorted(
        str(order.pk) for order in orders
    )
    # when two workers send at the same moment
    with at(DELIVERED + 7 * DAY):
        sent = race(lambda: send_due_surveys(settings=settings))
    # then each customer got one email
    assert sum(sent) == 12
    for order in orders:
        assert len(nps_mails(smtp_server, order)) == 1
    assert Notification.objects.filter(kind="survey_nps").count() == 12


def test_concurrent_senders_respect_the_quiet_period(
    transactional_db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given eight customers with two orders each, delivered together
    customers = [
        SaleorUserFactory.create(email=f"twice{number}@example.com")
        for number in range(8)
    ]
    pairs = [
        [delivered_order(on_commit, post_carrier_event, user=customer) for _ in "ab"]
        for customer in customers
    ]
    settings = load_settings()
    with at(DELIVERED + HOUR):
        assert plan_surveys(settings=settings).nps == 16
    # when two workers send at the same moment (each takes the surveys the other has not)
    with at(DELIVERED + 7 * DAY):
        sent = race(lambda: send_due_surveys(settings=settings))
    # then each customer got one survey; the other order's is cancelled for the quiet period
    assert sum(sent) == 8
    for customer, orders in zip(customers, pairs, strict=True):
        states = sorted(survey_of(order).state for order in orders)
        assert states == [SurveyState.CANCELLED, SurveyState.SENT], customer.email
        assert sum(len(nps_mails(smtp_server, order)) for order in orders) == 1


# --- post-purchase NPS: when it does not go


def cancel(order, on_commit) -> None:
    set_status(order, "canceled")
    on_commit(hooks.order_cancelled, order)


def refund_fully(order, on_commit) -> None:
    refund(order, order.total_gross_amount)
    on_commit(hooks.order_refunded, order)


def return_everything(order, on_commit) -> None:
    return_items(order)
    on_commit(hooks.order_updated, order)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (cancel, "the order was cancelled"),
        (refund_fully, "the order was fully refunded"),
        (return_everything, "everything was returned"),
    ],
)
def test_cancelled_refunded_or_returned_order_gets_no_survey(
    db, survey_config, smtp_server, on_commit, post_carrier_event, change, reason
):
    # given a delivered order whose survey is planned
    order = delivered_order(on_commit, post_carrier_event)
    run_surveys(on_commit, DELIVERED + HOUR)
    assert survey_of(order).state == SurveyState.SCHEDULED
    # when the order is cancelled, refunded or returned before the survey is due
    with at(DELIVERED + 2 * DAY):
        change(order, on_commit)
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    # then the survey is cancelled with the reason and nothing is sent
    survey = survey_of(order)
    assert (survey.state, survey.reason) == (SurveyState.CANCELLED, reason)
    assert survey.sent_at is None
    assert nps_mails(smtp_server, order) == []


def test_partly_returned_or_refunded_order_still_gets_its_survey(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given two delivered orders of two pairs each
    returned = delivered_order(on_commit, post_carrier_event, quantity=2)
    refunded = delivered_order(on_commit, post_carrier_event, quantity=2)
    # when one pair of the first comes back before the task first runs
    # (orderFulfillmentReturnProducts: a returned fulfillment, the order partly returned)
    with at(DELIVERED + HOUR):
        back = Fulfillment.objects.create(
            order=returned, fulfillment_order=2, status="returned"
        )
        FulfillmentLine.objects.create(
            fulfillment=back, order_line=returned.lines.get(), quantity=1
        )
        set_status(returned, "partially_returned")
        on_commit(hooks.order_updated, returned)
        # and half of the second is refunded
        refund(refunded, Decimal("100.00"))
        on_commit(hooks.order_refunded, refunded)
    run_surveys(on_commit, DELIVERED + 2 * HOUR)
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    # then both customers still kept something and are asked
    assert snapshot_of(returned).status == "partially_returned"
    assert survey_of(returned).state == SurveyState.SENT
    assert survey_of(refunded).state == SurveyState.SENT
    assert len(nps_mails(smtp_server, returned)) == 1
    assert len(nps_mails(smtp_server, refunded)) == 1


def test_second_order_in_the_quiet_period_gets_no_survey(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a customer whose first order's survey went out
    customer = SaleorUserFactory.create(email="carla@example.com")
    first = delivered_order(on_commit, post_carrier_event, user=customer)
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    assert len(nps_mails(smtp_server, first)) == 1
    # when a second order is delivered 30 days later
    second = delivered_order(
        on_commit,
        post_carrier_event,
        user=customer,
        shipped_at=T0 + 30 * DAY,
        delivered_at=DELIVERED + 30 * DAY,
    )
    run_surveys(on_commit, DELIVERED + 37 * DAY)
    # then its survey is cancelled: the customer was asked within 90 days
    survey = survey_of(second)
    assert (survey.state, survey.reason) == (
        SurveyState.CANCELLED,
        "the customer got a survey in the last 90 days",
    )
    assert nps_mails(smtp_server, second) == []
    # and an order delivered after the quiet period is surveyed again
    third = delivered_order(
        on_commit,
        post_carrier_event,
        user=customer,
        shipped_at=T0 + 91 * DAY,
        delivered_at=DELIVERED + 91 * DAY,
    )
    run_surveys(on_commit, DELIVERED + 98 * DAY)
    assert survey_of(third).state == SurveyState.SENT
    assert len(nps_mails(smtp_server, third)) == 1


def test_purchase_and_ticket_surveys_keep_the_gap_between_them(
    db,
    customer_api_client,
    staff_api_client,
    survey_config,
    smtp_server,
    on_commit,
    post_carrier_event,
):
    # given Alice's ticket solved at T0 and her order delivered a day later,
    # with the purchase survey a day after delivery
    survey_config(survey_delay_days="1")
    ticket = solved_ticket(customer_api_client, staff_api_client)
    order = delivered_order(
        on_commit, post_carrier_event, user=SaleorUserFactory.create(email="x@x.io")
    )
    order_of_alice = delivered_order(
        on_commit,
        post_carrier_event,
        user_email="alice@example.com",
        user=None,
    )
    # when the ticket survey goes a day after the solving
    run_surveys(on_commit, T0 + DAY)
    assert len(csat_mails(smtp_server, ticket)) == 1
    # then her purchase survey, due the day after, waits out the three-day gap
    run_surveys(on_commit, DELIVERED + DAY)
    survey = survey_of(order_of_alice)
    assert (survey.state, survey.reason) == (
        SurveyState.SCHEDULED,
        "waiting: the customer got another survey on 2026-06-02 09:00 UTC; "
        "this one goes after 2026-06-05 09:00 UTC",
    )
    assert nps_mails(smtp_server, order_of_alice) == []
    # while another customer's survey is not held by hers
    assert len(nps_mails(smtp_server, order)) == 1
    run_surveys(on_commit, T0 + 4 * DAY - MINUTE)
    assert nps_mails(smtp_server, order_of_alice) == []
    # and goes once the gap is over
    run_surveys(on_commit, T0 + 4 * DAY + MINUTE)
    assert len(nps_mails(smtp_server, order_of_alice)) == 1
    assert survey_of(order_of_alice).reason == ""


def test_survey_email_offers_to_stop_updates_and_surveys(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a survey email
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    # then its unsubscribe line names what the opt-out stops: updates and surveys
    assert mail.message["List-Unsubscribe"]
    assert "Stop shipping updates and surveys: http" in mail.body("plain")
    assert ">Stop shipping updates and surveys</a>" in mail.body("html")


def test_customer_who_unsubscribed_gets_no_survey(
    db, client, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a delivered order whose shipping email carries the unsubscribe link
    order = delivered_order(on_commit, post_carrier_event)
    (shipped,) = [
        mail
        for mail in smtp_server.messages
        if mail.subject == f"Your order #{order.number} is on its way"
    ]
    unsubscribe = re.search(
        r"<(http://testserver[^>]+)>", shipped.message["List-Unsubscribe"]
    )
    assert unsubscribe is not None
    # when the customer unsubscribes through it (the page's POST)
    assert client.post(unsubscribe.group(1)).status_code == 200
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    # then the survey is cancelled with the reason and nothing is sent
    survey = survey_of(order)
    assert (survey.state, survey.reason) == (
        SurveyState.CANCELLED,
        "the customer unsubscribed from our emails",
    )
    assert nps_mails(smtp_server, order) == []
    assert not Notification.objects.filter(kind="survey_nps").exists()


def test_merchant_switching_the_nps_email_off_cancels_instead_of_counting_it_sent(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given the purchase survey email switched off in the dashboard
    survey_config(notify_survey_nps=False)
    order = delivered_order(on_commit, post_carrier_event)
    # when it is due
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    # then nothing goes out and the survey says why (it was never sent)
    survey = survey_of(order)
    assert (survey.state, survey.sent_at) == (SurveyState.CANCELLED, None)
    assert survey.reason == "'Purchase survey (NPS)' emails are switched off"
    assert nps_mails(smtp_server, order) == []
    assert not Notification.objects.filter(kind="survey_nps").exists()


def test_without_a_public_url_no_survey_goes_out_with_broken_links(
    db, settings, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given neither the plugin nor the host names the shop's public URL
    settings.PUBLIC_URL = ""
    order = delivered_order(on_commit, post_carrier_event)
    # when its survey is due
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    # then it is cancelled, saying what to set, instead of mailing relative links
    survey = survey_of(order)
    assert (survey.state, survey.sent_at) == (SurveyState.CANCELLED, None)
    assert survey.reason == (
        "no public URL for the survey links: set the plugin's public URL "
        "(or the host's PUBLIC_URL)"
    )
    assert nps_mails(smtp_server, order) == []


def test_order_without_an_email_address_gets_no_survey(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a delivered order Saleor knows no email address for
    order = delivered_order(on_commit, post_carrier_event, user=None, user_email="")
    assert snapshot_of(order).customer_email == ""
    # when its survey is due
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    # then it is cancelled, saying why, and never counted as sent
    survey = survey_of(order)
    assert (survey.state, survey.reason, survey.sent_at) == (
        SurveyState.CANCELLED,
        "there is no customer email address",
        None,
    )
    assert not Notification.objects.filter(kind="survey_nps").exists()


def test_open_ticket_about_the_order_holds_the_survey_until_it_is_solved(
    db,
    customer_user,
    customer_api_client,
    staff_api_client,
    survey_config,
    smtp_server,
    on_commit,
    post_carrier_event,
):
    # given a delivered order of Alice, who asks about it before the survey is due
    order = delivered_order(on_commit, post_carrier_event, user=customer_user)
    with at(DELIVERED + 2 * DAY):
        created = data_of(
            customer_api_client.post_graphql(
                MUTATION_TICKET_CREATE,
                create_input(
                    order=oid(snapshot_of(order)), subject="One shoe is missing"
                ),
            ),
            "supportTicketCreate",
        )
    ticket = Ticket.objects.get(number=created["ticket"]["number"])
    # when the survey is due
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    # then it waits, saying why, and nothing is sent
    survey = survey_of(order)
    assert (survey.state, survey.reason) == (
        SurveyState.SCHEDULED,
        f"waiting: ticket {ticket.reference} about the order is open",
    )
    run_surveys(on_commit, DELIVERED + 8 * DAY)
    assert nps_mails(smtp_server, order) == []
    # when staff solve the ticket
    with at(DELIVERED + 9 * DAY):
        data_of(
            staff_api_client.post_graphql(
                MUTATION_UPDATE, {"id": tid(ticket), "input": {"status": "SOLVED"}}
            ),
            "supportTicketUpdate",
        )
    run_surveys(on_commit, DELIVERED + 9 * DAY + 5 * MINUTE)
    # then the survey goes at the next run
    survey.refresh_from_db()
    assert (survey.state, survey.reason) == (SurveyState.SENT, "")
    assert survey.sent_at == DELIVERED + 9 * DAY + 5 * MINUTE
    (mail,) = nps_mails(smtp_server, order)
    assert mail.envelope_to == ("alice@example.com",)


def test_german_order_gets_the_german_survey(
    db, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given an order placed in German
    order, survey, mail = sent_survey(
        on_commit,
        post_carrier_event,
        smtp_server,
        language_code="de",
        user__first_name="Jörg",
    )
    # then the survey email is German, with the eleven score links
    assert mail.subject == f"Wie waren wir bei Bestellung #{order.number}?"
    text = mail.body("plain")
    assert "Hallo Jörg," in text
    assert (
        "Wie wahrscheinlich ist es, dass Sie Acme Support Freunden oder Kollegen "
        "empfehlen?" in text
    )
    assert "Überhaupt nicht wahrscheinlich" in mail.body("html")
    assert sorted(score_links(mail)) == list(range(11))
    assert survey.language_code == "de"
    assert "Versandbenachrichtigungen und Umfragen abbestellen: http" in text


def test_german_detractor_sees_a_german_follow_up_subject(
    db, client, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a German order's survey
    order, survey, mail = sent_survey(
        on_commit, post_carrier_event, smtp_server, language_code="de"
    )
    # when Jörg submits a low score
    with at(DELIVERED + 8 * DAY):
        on_commit(submit, token_of(mail), 2, "Zu spät.")
    # then the follow-up's subject is German and names the order, not the score
    (ticket,) = Ticket.objects.filter(category="feedback")
    assert ticket.subject == f"Ihr Feedback zu Bestellung #{order.number}"


# --- post-ticket CSAT


def open_ticket(client, **fields: Any) -> Ticket:
    created = data_of(
        client.post_graphql(MUTATION_TICKET_CREATE, create_input(**fields)),
        "supportTicketCreate",
    )
    return Ticket.objects.get(number=created["ticket"]["number"])


def staff_update(staff_api_client, ticket: Ticket, **fields: Any) -> None:
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_UPDATE, {"id": tid(ticket), "input": fields}
        ),
        "supportTicketUpdate",
    )
    assert result["errors"] == []


def csat_of(ticket: Ticket) -> Survey:
    return Survey.objects.get(kind="csat", ticket=ticket)


def solved_ticket(customer_api_client, staff_api_client, solved_at: datetime = T0):
    with at(solved_at - HOUR):
        ticket = open_ticket(customer_api_client, subject="Wrong size delivered")
    with at(solved_at):
        staff_update(staff_api_client, ticket, status="SOLVED")
    ticket.refresh_from_db()
    return ticket


def test_csat_goes_a_day_after_the_ticket_is_solved_with_five_links(
    db,
    customer_api_client,
    staff_api_client,
    survey_config,
    smtp_server,
    on_commit,
):
    # given a ticket solved by staff
    ticket = solved_ticket(customer_api_client, staff_api_client)
    # when the task runs an hour later
    run_surveys(on_commit, T0 + HOUR)
    # then the survey waits for 24 hours after the solving
    survey = csat_of(ticket)
    assert (survey.state, survey.trigger) == (SurveyState.SCHEDULED, "ticket solved")
    assert (survey.triggered_at, survey.due_at) == (T0, T0 + DAY)
    run_surveys(on_commit, T0 + DAY - MINUTE)
    assert csat_mails(smtp_server, ticket) == []
    # when it is due
    run_surveys(on_commit, T0 + DAY)
    # then the customer gets it with the five score links
    (mail,) = csat_mails(smtp_server, ticket)
    assert mail.envelope_to == ("alice@example.com",)
    assert (
        "How satisfied are you with the help you got from Acme Support?"
        in mail.body("plain")
    )
    assert sorted(score_links(mail)) == [1, 2, 3, 4, 5]
    assert csat_of(ticket).state == SurveyState.SENT
    run_surveys(on_commit, T0 + 2 * DAY)
    assert len(csat_mails(smtp_server, ticket)) == 1


def test_csat_is_cancelled_when_the_ticket_reopens_and_goes_after_the_next_solve(
    db,
    customer_api_client,
    staff_api_client,
    survey_config,
    smtp_server,
    on_commit,
):
    # given a solved ticket whose survey is planned
    ticket = solved_ticket(customer_api_client, staff_api_client)
    run_surveys(on_commit, T0 + HOUR)
    # when the customer answers before the survey goes (the ticket reopens)
    with at(T0 + 2 * HOUR):
        data_of(
            customer_api_client.post_graphql(
                MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "Still wrong."}
            ),
            "supportTicketReply",
        )
    run_surveys(on_commit, T0 + DAY)
    # then the survey is cancelled with the reason, nothing sent
    survey = csat_of(ticket)
    assert (survey.state, survey.reason) == (
        SurveyState.CANCELLED,
        "the ticket was reopened before the survey went",
    )
    assert csat_mails(smtp_server, ticket) == []
    # when staff solve it again, the one survey of the ticket counts from then
    solved_again = T0 + 3 * DAY
    with at(solved_again):
        staff_update(staff_api_client, ticket, status="SOLVED")
    run_surveys(on_commit, solved_again + HOUR)
    survey.refresh_from_db()
    assert (survey.state, survey.triggered_at, survey.due_at, survey.reason) == (
        SurveyState.SCHEDULED,
        solved_again,
        solved_again + DAY,
        "",
    )
    run_surveys(on_commit, solved_again + DAY)
    assert Survey.objects.filter(kind="csat").count() == 1
    assert len(csat_mails(smtp_server, ticket)) == 1


def test_ticket_reopened_and_solved_again_between_runs_counts_from_the_last_solve(
    db,
    customer_api_client,
    staff_api_client,
    survey_config,
    smtp_server,
    on_commit,
):
    # given a solved ticket whose survey is planned
    ticket = solved_ticket(customer_api_client, staff_api_client)
    run_surveys(on_commit, T0 + HOUR)
    # when it reopens and is solved again before the task looks again
    with at(T0 + 20 * HOUR):
        customer_api_client.post_graphql(
            MUTATION_TICKET_REPLY, {"id": tid(ticket), "body": "One more thing."}
        )
    with at(T0 + 21 * HOUR):
        staff_update(staff_api_client, ticket, status="SOLVED")
    run_surveys(on_commit, T0 + DAY)
    # then the survey waits 24 hours from the last solving
    survey = csat_of(ticket)
    assert (survey.state, survey.due_at) == (SurveyState.SCHEDULED, T0 + 45 * HOUR)
    assert csat_mails(smtp_server, ticket) == []
    run_surveys(on_commit, T0 + 45 * HOUR)
    assert len(csat_mails(smtp_server, ticket)) == 1


@pytest.mark.parametrize("tag", ["spam", "merged"])
def test_no_csat_for_tickets_tagged_spam_or_merged(
    db,
    customer_api_client,
    staff_api_client,
    survey_config,
    smtp_server,
    on_commit,
    tag,
):
    # given one ticket tagged before it is solved, one tagged after its survey was planned
    early = solved_ticket(customer_api_client, staff_api_client)
    with at(T0):
        staff_update(staff_api_client, early, tags=[tag])
    late = solved_ticket(customer_api_client, staff_api_client)
    run_surveys(on_commit, T0 + HOUR)
    assert csat_of(late).state == SurveyState.SCHEDULED
    with at(T0 + 2 * HOUR):
        staff_update(staff_api_client, late, tags=["shoes", tag])
    # when their surveys would be due
    run_surveys(on_commit, T0 + DAY)
    # then neither goes, each says why
    for ticket in (early, late):
        survey = csat_of(ticket)
        assert (survey.state, survey.reason) == (
            SurveyState.CANCELLED,
            f"the ticket is tagged {tag}",
        )
        assert csat_mails(smtp_server, ticket) == []


# --- answering


def test_click_records_the_score_and_the_comment_submits_it(
    db, client, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a survey email
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    links = score_links(mail)
    clicked_at = DELIVERED + 8 * DAY
    # when the customer clicks 8 (the page opens, its script posts the score)
    with at(clicked_at):
        click(client, links[8])
    # then the score is recorded, the answer still open
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.answered_at) == (
        SurveyState.ANSWERED,
        8,
        clicked_at,
    )
    # when the same link is followed again, nothing changes
    with at(clicked_at + MINUTE):
        click(client, links[8])
    assert row(survey)["answered_at"] == clicked_at
    # when they change it to 9 and send a comment with markup
    with at(clicked_at + 2 * MINUTE):
        click(client, links[9])
        answer(
            client,
            token_of(mail),
            9,
            comment="<b>Great</b> shoes <script>alert(1)</script>\x00fast delivery",
        )
    # then the answer is final with the comment as plain text
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.submitted_at) == (
        SurveyState.SUBMITTED,
        9,
        clicked_at + 2 * MINUTE,
    )
    assert survey.comment == "Great shoes fast delivery"
    assert survey.follow_up_ticket is None
    assert not Ticket.objects.filter(category="feedback").exists()
    # and the link names the survey and its recipient, never the address itself
    payload = urlsafe_b64decode(token_of(mail).split(":")[0] + "==").decode()
    assert survey.customer_email not in payload


def refused_everywhere(client, token: str, code: str, status: int) -> None:
    """Check the token opens nothing: the page answers `status`, the services `code`."""
    assert (
        client.get(
            f"{SURVEY_PATH}?{urlencode({'token': token, 'score': 0})}"
        ).status_code
        == status
    )
    for action in ("score", "submit"):
        fields = {"token": token, "action": action, "score": 0, "comment": "terrible"}
        assert post_form(client, fields).status_code == status
    for attempt in (
        lambda: services.record_score(token=token, score=0, settings=load_settings()),
        lambda: submit(token, 0, comment="terrible"),
    ):
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert coded(refused.value) == ("token", code)


MISUSES = [
    "forged",
    "unsubscribe token",
    "unknown survey",
    "not sent",
    "other recipient",
]


@pytest.mark.parametrize("misuse", MISUSES)
def test_foreign_or_forged_token_is_refused_and_changes_nothing(
    db, client, survey_config, smtp_server, on_commit, post_carrier_event, misuse
):
    # given a survey that went out, and one not sent yet
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    token = token_of(mail)
    waiting = delivered_order(
        on_commit, post_carrier_event, delivered_at=DELIVERED + 6 * DAY
    )
    run_surveys(on_commit, DELIVERED + 7 * DAY)
    assert survey_of(waiting).state == SurveyState.SCHEDULED
    bad = {
        "forged": token[:-3] + ("xyz" if not token.endswith("xyz") else "abc"),
        "unsubscribe token": make_token(survey.customer_email),
        "unknown survey": make_survey_token(
            "00000000-0000-4000-8000-000000000000", survey.customer_email
        ),
        "not sent": make_survey_token(
            str(survey_of(waiting).pk), survey_of(waiting).customer_email
        ),
        "other recipient": make_survey_token(str(survey.pk), "mallory@example.com"),
    }[misuse]
    before = every_survey()
    # when it is used on the page and on the services
    with at(DELIVERED + 8 * DAY):
        # then it is refused: 404 and invalid_token
        refused_everywhere(client, bad, "invalid_token", 404)
    # and nothing changed
    assert every_survey() == before
    assert not Ticket.objects.exists()


def test_link_expires_after_survey_link_days(
    db, client, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given links valid for 10 days
    survey_config(survey_link_days="10")
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    assert "The links work for 10 days." in mail.body("plain")
    before = row(survey)
    # when a link is followed 10 days and a minute after sending
    with at(survey.sent_at + 10 * DAY + MINUTE):
        # then it has expired (410, expired), and nothing changed
        refused_everywhere(client, token_of(mail), "expired", 410)
    assert row(survey) == before
    # while a minute before the end it still worked
    with at(survey.sent_at + 10 * DAY - MINUTE):
        click(client, score_links(mail)[3])
    assert row(survey)["score"] == 3


def test_bad_answers_and_a_second_submission_are_refused_and_change_nothing(
    db, client, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given an open survey
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    token = token_of(mail)
    before = row(survey)
    with at(DELIVERED + 8 * DAY):
        # when the score is out of range, not a number, or the comment too long
        for score, comment, expected in [
            (11, "", ("score", "out_of_range")),
            (-1, "", ("score", "out_of_range")),
            ("ten", "", ("score", "invalid")),
            (7, "x" * 2001, ("comment", "too_long")),
        ]:
            # then the page shows the form again (400), the service names the code
            fields = {"token": token, "action": "submit", "score": score}
            assert post_form(client, {**fields, "comment": comment}).status_code == 400
            with pytest.raises(ValidationError) as refused:
                submit(token, score, comment=comment)
            assert coded(refused.value) == expected
        assert row(survey) == before
        # when the customer sends an answer, then another one
        answer(client, token, 7, comment="Fine.")
        answered = row(survey)
        # then the second is refused (409, already_submitted), the first stays
        fields = {"token": token, "action": "submit", "score": 10, "comment": "No!"}
        assert post_form(client, fields).status_code == 409
        fields["action"] = "score"
        assert post_form(client, fields).status_code == 409
        with pytest.raises(ValidationError) as refused:
            submit(token, 10, comment="Changed my mind")
        assert coded(refused.value) == ("token", "already_submitted")
        # and following a score link again just says it was answered
        page = client.get(score_links(mail)[10])
        assert page.status_code == 200
        assert "you have already answered this survey" in page.content.decode()
    assert row(survey) == answered
    assert (answered["score"], answered["comment"]) == (7, "Fine.")


# --- the closed loop


@pytest.fixture
def feedback_rule(db):
    """Route feedback tickets to Carol, a tier-2 agent (the merchant's rule)."""
    return RoutingRule.objects.create(
        name="Feedback to Carol",
        categories=["feedback"],
        set_tier=2,
        assign_user_id="carol-1",
        assign_email="carol@acme.example",
        add_tags=["closed-loop"],
    )


def staff_mails_about(smtp_server, ticket: Ticket) -> list[ReceivedMail]:
    return [
        mail
        for mail in smtp_server.messages
        if mail.subject.startswith(f"New ticket {ticket.reference}:")
    ]


def test_detractor_opens_one_follow_up_ticket_routed_to_feedback_staff(
    db, client, feedback_rule, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a survey email
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    # when the customer clicks 3 and explains
    with at(DELIVERED + 8 * DAY):
        on_commit(click, client, score_links(mail)[3])
        on_commit(answer, client, token_of(mail), 3, "The sole came off in a week.")
    # then one follow-up ticket is open: feedback, high, routed by the rule
    survey.refresh_from_db()
    (ticket,) = Ticket.objects.filter(category="feedback")
    assert survey.follow_up_ticket == ticket
    assert (ticket.status, ticket.priority, ticket.tier) == ("open", "high", 2)
    assert (ticket.assignee_user_id, ticket.assignee_email) == (
        "carol-1",
        "carol@acme.example",
    )
    assert ticket.tags == ["survey", "nps", "closed-loop"]
    assert ticket.order == snapshot_of(order)
    assert ticket.customer_email == survey.customer_email
    # and its subject, which the customer sees, names the order, not the score
    assert ticket.subject == f"Your feedback on order #{order.number}"
    assert ticket.first_response_due_at is not None
    (note,) = ticket.messages.all()
    assert note.is_internal
    assert note.body_text == (
        "Low score in the purchase survey (NPS): 3 of 10.\n"
        f"Order #{order.number}.\n"
        "Comment: The sole came off in a week."
    )
    # and Carol is emailed about it, once
    (staff_mail,) = staff_mails_about(smtp_server, ticket)
    assert staff_mail.envelope_to == ("carol@acme.example",)
    assert "The sole came off in a week." in staff_mail.body("plain")
    # and the task running later opens nothing more
    run_surveys(on_commit, DELIVERED + 9 * DAY)
    assert Ticket.objects.filter(category="feedback").count() == 1
    assert len(staff_mails_about(smtp_server, ticket)) == 1


@pytest.mark.parametrize(
    ("config", "score", "detractor"),
    [
        ({}, 6, True),
        ({}, 7, False),
        ({"nps_detractor_max": "4"}, 5, False),
        ({"nps_detractor_max": "4"}, 4, True),
    ],
)
def test_nps_detractor_threshold_comes_from_the_settings(
    db,
    client,
    survey_config,
    smtp_server,
    on_commit,
    post_carrier_event,
    config,
    score,
    detractor,
):
    # given the merchant's threshold
    survey_config(**config)
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    # when the customer submits the score
    with at(DELIVERED + 8 * DAY):
        answer(client, token_of(mail), score)
    # then a follow-up ticket is open exactly for a detractor
    assert Ticket.objects.filter(category="feedback").count() == int(detractor)


@pytest.mark.parametrize(
    ("config", "score", "detractor"),
    [
        ({}, 2, True),
        ({}, 3, False),
        ({"csat_detractor_max": "3"}, 3, True),
    ],
)
def test_low_csat_opens_a_follow_up_ticket_about_the_ticket(
    db,
    client,
    feedback_rule,
    customer_api_client,
    staff_api_client,
    survey_config,
    smtp_server,
    on_commit,
    config,
    score,
    detractor,
):
    # given a CSAT survey that went out, with the merchant's threshold
    survey_config(**config)
    ticket = solved_ticket(customer_api_client, staff_api_client)
    run_surveys(on_commit, T0 + DAY)
    (mail,) = csat_mails(smtp_server, ticket)
    # when the customer submits the score
    with at(T0 + 2 * DAY):
        on_commit(answer, client, token_of(mail), score, "Slow answers.")
    # then a follow-up ticket is open exactly for a low score
    follow_ups = list(Ticket.objects.filter(category="feedback"))
    assert len(follow_ups) == int(detractor)
    if detractor:
        (follow_up,) = follow_ups
        assert follow_up.subject == f"Your feedback on ticket {ticket.reference}"
        assert follow_up.messages.get().body_text == (
            f"Low score in the ticket survey (CSAT) about ticket {ticket.reference}: "
            f"{score} of 5.\nComment: Slow answers."
        )
        assert csat_of(ticket).follow_up_ticket == follow_up
        assert len(staff_mails_about(smtp_server, follow_up)) == 1


def test_score_left_without_submit_closes_the_loop_after_an_hour_and_loops_once(
    db, client, feedback_rule, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a customer who clicked 2 and left the page
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    clicked_at = DELIVERED + 8 * DAY
    with at(clicked_at):
        click(client, score_links(mail)[2])
    # when the task runs within the hour, nothing is opened yet
    run_surveys(on_commit, clicked_at + 59 * MINUTE)
    survey.refresh_from_db()
    assert (survey.state, survey.loop_closed_at) == (SurveyState.ANSWERED, None)
    assert not Ticket.objects.exists()
    # when an hour has passed
    run_surveys(on_commit, clicked_at + 61 * MINUTE)
    # then the loop closed: one follow-up ticket, one staff email; the answer stays open
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.loop_closed_at) == (
        SurveyState.ANSWERED,
        2,
        clicked_at + 61 * MINUTE,
    )
    (ticket,) = Ticket.objects.all()
    assert survey.follow_up_ticket == ticket
    assert ticket.messages.get().body_text.endswith("No comment.")
    # and closing again (the task, the service) changes nothing
    run_surveys(on_commit, clicked_at + 2 * HOUR)
    with at(clicked_at + 3 * HOUR):
        assert services.close_idle_answers(settings=load_settings()) == 0
    assert Ticket.objects.count() == 1
    assert ticket.messages.count() == 1
    assert len(staff_mails_about(smtp_server, ticket)) == 1


def test_a_comment_the_next_day_reaches_the_follow_up_and_a_second_submit_is_refused(
    db, client, feedback_rule, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a score of 2 whose loop closed an hour after the click
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    clicked_at = DELIVERED + 8 * DAY
    with at(clicked_at):
        click(client, score_links(mail)[2])
    run_surveys(on_commit, clicked_at + 61 * MINUTE)
    (ticket,) = Ticket.objects.all()
    # when the customer comes back the next day and submits 3 with a comment
    with at(clicked_at + DAY):
        on_commit(answer, client, token_of(mail), 3, "The <b>zip</b> broke.")
    # then the answer is final and the follow-up ticket gets it as a note, no new ticket
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.comment) == (
        SurveyState.SUBMITTED,
        3,
        "The zip broke.",
    )
    assert survey.submitted_at == survey.loop_closed_at == clicked_at + DAY
    # and the changed score counts from when it was given (the statistics' week)
    assert survey.answered_at == clicked_at + DAY
    assert Ticket.objects.get() == ticket
    first, update = ticket.messages.order_by("created_at")
    assert (update.is_internal, update.author_kind) == (True, "system")
    assert update.body_text == (
        "The customer updated the survey answer: 3 of 10.\nComment: The zip broke."
    )
    # and staff get no second "new ticket" email
    assert len(staff_mails_about(smtp_server, ticket)) == 1
    # and the task adds nothing more
    run_surveys(on_commit, clicked_at + DAY + 2 * HOUR)
    assert ticket.messages.count() == 2
    # and a second submission is refused, changing nothing
    with at(clicked_at + DAY + 3 * HOUR), pytest.raises(ValidationError) as refused:
        submit(token_of(mail), 9, comment="Actually fine")
    assert coded(refused.value) == ("token", "already_submitted")
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (3, "The zip broke.")


def test_a_score_changed_after_the_loop_closed_is_seen_again(
    db, client, feedback_rule, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a score of 8 left without "send": the loop closed with nothing to do
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    clicked_at = DELIVERED + 8 * DAY
    with at(clicked_at):
        click(client, score_links(mail)[8])
    run_surveys(on_commit, clicked_at + 61 * MINUTE)
    assert not Ticket.objects.exists()
    # when the customer clicks 1 in the same email two days later and leaves again
    with at(clicked_at + 2 * DAY):
        click(client, score_links(mail)[1])
    run_surveys(on_commit, clicked_at + 2 * DAY + 30 * MINUTE)
    assert not Ticket.objects.exists()
    run_surveys(on_commit, clicked_at + 2 * DAY + 61 * MINUTE)
    # then the new low score opens its follow-up, once
    (ticket,) = Ticket.objects.all()
    assert survey.__class__.objects.get(pk=survey.pk).follow_up_ticket == ticket
    assert "1 of 10" in ticket.messages.get().body_text


def test_answers_close_their_loop_after_surveys_are_switched_off(
    db, client, feedback_rule, survey_config, smtp_server, on_commit, post_carrier_event
):
    # given a low score left without "send"
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    clicked_at = DELIVERED + 8 * DAY
    with at(clicked_at):
        click(client, score_links(mail)[0])
    # when the merchant switches surveys off before the hour is over
    survey_config(surveys_enabled=False)
    run_surveys(on_commit, clicked_at + 61 * MINUTE)
    # then the detractor still gets the follow-up ticket
    (ticket,) = Ticket.objects.all()
    assert ticket.category == "feedback"


def test_promoter_quote_becomes_a_testimonial_once_staff_approve(
    db,
    client,
    staff_user,
    customer_user,
    survey_config,
    smtp_server,
    on_commit,
    post_carrier_event,
):
    # given a survey email to Alice
    order, survey, mail = sent_survey(
        on_commit, post_carrier_event, smtp_server, user__first_name="Alice"
    )
    # when she gives 10 with a comment she allows us to quote
    with at(DELIVERED + 8 * DAY):
        answer(
            client,
            token_of(mail),
            10,
            comment="Best running shoes I ever had!",
            may_quote=True,
        )
    # then a testimonial waits for staff, named by her first name only
    testimonial = surveys.Testimonial.objects.get()
    assert testimonial.survey == survey_of(order)
    assert (testimonial.state, testimonial.text, testimonial.author_name) == (
        surveys.TestimonialState.PENDING,
        "Best running shoes I ever had!",
        "Alice",
    )
    assert testimonial.score == 10
    assert not Ticket.objects.exists()
    settings = load_settings()
    # when a customer tries to approve it, they may not
    with pytest.raises(PermissionDenied):
        services.testimonial_review(
            requestor=requestor_from_user(customer_user),
            settings=settings,
            testimonial_id=str(testimonial.pk),
            approve=True,
        )
    testimonial.refresh_from_db()
    assert testimonial.state == surveys.TestimonialState.PENDING
    # when staff approve it
    with at(DELIVERED + 9 * DAY):
        services.testimonial_review(
            requestor=requestor_from_user(staff_user),
            settings=settings,
            testimonial_id=str(testimonial.pk),
            approve=True,
        )
    # then it is approved, by whom and when
    testimonial.refresh_from_db()
    assert (testimonial.state, testimonial.reviewed_by, testimonial.reviewed_at) == (
        surveys.TestimonialState.APPROVED,
        "staff@example.com",
        DELIVERED + 9 * DAY,
    )


@pytest.mark.parametrize(
    ("score", "comment", "may_quote"),
    [(10, "Great!", False), (8, "Great!", True), (9, "", True), (3, "Bad.", True)],
)
def test_only_a_promoters_quotable_comment_becomes_a_testimonial(
    db,
    client,
    survey_config,
    smtp_server,
    on_commit,
    post_carrier_event,
    score,
    comment,
    may_quote,
):
    # given a survey email
    order, survey, mail = sent_survey(on_commit, post_carrier_event, smtp_server)
    # when the answer lacks the permission, the comment or a promoter's score
    with at(DELIVERED + 8 * DAY):
        answer(client, token_of(mail), score, comment=comment, may_quote=may_quote)
    # then no testimonial
    assert not surveys.Testimonial.objects.exists()


def test_unknown_testimonial_is_a_coded_error(db, staff_user, survey_config):
    for testimonial_id in ("not-a-uuid", "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(ValidationError) as refused:
            services.testimonial_review(
                requestor=requestor_from_user(staff_user),
                settings=load_settings(),
                testimonial_id=testimonial_id,
                approve=True,
            )
        assert coded(refused.value) == ("id", "not_found")
