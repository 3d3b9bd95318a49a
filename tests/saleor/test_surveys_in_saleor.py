"""Surveys inside a real Saleor 3.24: a Saleor order, delivered, gets its survey.

Staff ship with Saleor's `orderFulfill` (a tracking number); the carrier reports
delivery through the plugin's signed webhook on Saleor's plugin route; the
plugin's periodic task runs at frozen moments (freezegun, Saleor's own) and its
email goes through Saleor's email backend (locmem: `mailoutbox`). Following a
score link opens the survey page on the plugin route: its GET records nothing,
the page's POST records the score.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

from django.test import Client  # noqa: E402
from freezegun import freeze_time  # noqa: E402
from saleor.order import OrderStatus  # noqa: E402

from saleor_support_plugin import PLUGIN_ID  # noqa: E402
from saleor_support_plugin.core.signing import signed_headers  # noqa: E402
from saleor_support_plugin.orders.models import OrderSnapshot  # noqa: E402
from saleor_support_plugin.surveys.models import Survey, SurveyState  # noqa: E402
from saleor_support_plugin.tasks import surveys_task  # noqa: E402

from . import test_proactive_updates_in_saleor as proactive  # noqa: E402

# The staff and email fixtures of the order-update tests, by name.
post_as_staff = proactive.post_as_staff
plugin_mails = proactive.plugin_mails

SHOP_URL = "https://shop.example"
PLUGIN_URL = f"/plugins/global/{PLUGIN_ID}"
SURVEY_PATH = f"{PLUGIN_URL}/survey/"
CARRIER_URL = f"{PLUGIN_URL}/webhooks/carrier/"
CARRIER_SECRET = "carrier-secret-in-saleor"
FORM = "application/x-www-form-urlencoded"

HREF = re.compile(r'<a href="([^"]+)"[^>]*>\s*(\d+)\s*</a>')
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
CHECKED = re.compile(
    r'<input type="radio" name="score" id="[^"]+" value="(\d+)" checked'
)


@pytest.fixture
def survey_plugin(support_plugin_with_sender):
    """Turn surveys on (7 days after delivery), open the carrier webhook, name the shop's URL."""
    support_plugin_with_sender.configuration += [
        {"name": "surveys_enabled", "value": True},
        {"name": "survey_delay_days", "value": "7"},
        {"name": "carrier_webhook_secret", "value": CARRIER_SECRET},
        {"name": "public_url", "value": SHOP_URL},
    ]
    support_plugin_with_sender.save(update_fields=["configuration"])
    return support_plugin_with_sender


def run_surveys(moment: datetime, capture) -> None:
    """Run the plugin's periodic survey task at `moment`; its emails go out after commit."""
    with freeze_time(moment), capture(execute=True):
        surveys_task()


def score_links(mail) -> dict[int, str]:
    """Return the score links of the HTML email (the text part has the same ones)."""
    (content, mimetype), *_ = mail.alternatives
    assert mimetype == "text/html"
    links = {int(score): html.unescape(url) for url, score in HREF.findall(content)}
    for score, url in links.items():
        assert f"{score}: {url}" in mail.body
    return links


def on_plugin_route(url: str) -> str:
    """Return the path and query of a link to the shop's plugin route."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == SHOP_URL
    assert parts.path == SURVEY_PATH
    return f"{parts.path}?{parts.query}"


def every_survey() -> list[Any]:
    return list(Survey.objects.order_by("pk").values())


def test_saleor_order_delivered_by_the_carrier_gets_its_survey_and_a_click_records_the_score(
    survey_plugin,
    post_as_staff,
    plugin_mails,
    order_with_lines,
    warehouse,
    django_capture_on_commit_callbacks,
):
    # given a customer's order that staff ship with a tracking number (orderFulfill)
    order = order_with_lines
    data = post_as_staff(
        proactive.MUTATION_ORDER_FULFILL,
        proactive.fulfill_variables(order, warehouse, "1Z-SURVEY"),
    )
    assert data["orderFulfill"]["errors"] == []
    assert data["orderFulfill"]["order"]["status"] == OrderStatus.FULFILLED.upper()
    snapshot = OrderSnapshot.objects.get(order_id=str(order.pk))
    assert snapshot.status == "fulfilled"

    # when the carrier reports delivery through the plugin's signed webhook
    delivered_at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    body = json.dumps(
        {
            "event_id": "ups-delivered-1",
            "tracking_number": "1Z-SURVEY",
            "status": "delivered",
            "occurred_at": delivered_at.isoformat(),
            "description": "Delivered to the front door",
            "carrier": "ups",
        }
    ).encode()
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(
            CARRIER_URL,
            body,
            content_type="application/json",
            headers=signed_headers(CARRIER_SECRET, body),
        )

    # then the plugin's shipment knows it was delivered
    assert response.status_code == 202, response.content
    (shipment,) = snapshot.fulfillments.all()
    assert shipment.delivered_at == delivered_at

    # when the survey task runs an hour later
    run_surveys(delivered_at + timedelta(hours=1), django_capture_on_commit_callbacks)

    # then the survey is scheduled a week after the delivery
    survey = Survey.objects.get(kind="nps", order=snapshot)
    due = delivered_at + timedelta(days=7)
    assert (survey.state, survey.trigger) == (SurveyState.SCHEDULED, "delivery")
    assert (survey.triggered_at, survey.due_at) == (delivered_at, due)
    assert survey.customer_email == order.get_customer_email()

    # when the task runs a minute before it is due, and when it is due
    subject = f"How did we do with order #{order.number}?"
    run_surveys(due - timedelta(minutes=1), django_capture_on_commit_callbacks)
    assert [mail for mail in plugin_mails() if mail.subject == subject] == []
    run_surveys(due, django_capture_on_commit_callbacks)

    # then the customer got the survey through Saleor's email backend, once
    (mail,) = [mail for mail in plugin_mails() if mail.subject == subject]
    assert mail.to == [order.get_customer_email()]
    links = score_links(mail)
    assert sorted(links) == list(range(11))
    tokens = {parse_qs(urlsplit(url).query)["token"][0] for url in links.values()}
    assert len(tokens) == 1
    survey.refresh_from_db()
    assert (survey.state, survey.sent_at) == (SurveyState.SENT, due)
    run_surveys(due + timedelta(hours=1), django_capture_on_commit_callbacks)
    assert len([mail for mail in plugin_mails() if mail.subject == subject]) == 1

    # when the customer follows the 9 two days later: the page opens (GET) ...
    client = Client()
    clicked_at = due + timedelta(days=2)
    with freeze_time(clicked_at):
        before = every_survey()
        page = client.get(on_plugin_route(links[9]))
        # then the GET (what mail scanners fetch too) records nothing
        assert page.status_code == 200
        assert every_survey() == before
        content = page.content.decode()
        assert CHECKED.findall(content) == ["9"]
        # ... and its script posts the chosen score
        fields = {name: html.unescape(value) for name, value in HIDDEN.findall(content)}
        with django_capture_on_commit_callbacks(execute=True):
            recorded = client.post(
                SURVEY_PATH,
                urlencode({**fields, "action": "score", "score": "9", "comment": ""}),
                content_type=FORM,
            )

    # then the score is recorded
    assert recorded.status_code == 200
    assert "We recorded your score of 9." in recorded.content.decode()
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.answered_at) == (
        SurveyState.ANSWERED,
        9,
        clicked_at,
    )

    # when the customer adds a comment and sends it
    with freeze_time(clicked_at + timedelta(minutes=2)):
        with django_capture_on_commit_callbacks(execute=True):
            sent = client.post(
                SURVEY_PATH,
                urlencode(
                    {
                        **fields,
                        "action": "submit",
                        "score": "9",
                        "comment": "Fast delivery, thank you!",
                    }
                ),
                content_type=FORM,
            )

    # then the answer is final
    assert sent.status_code == 200
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.comment) == (
        SurveyState.SUBMITTED,
        9,
        "Fast delivery, thank you!",
    )
    assert survey.submitted_at == clicked_at + timedelta(minutes=2)
