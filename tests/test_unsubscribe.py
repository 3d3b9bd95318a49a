"""Customer opt-out through the signed link in shipping updates."""

import re

from saleor_support_plugin.notifications.models import (
    EmailOptOut,
    Notification,
    NotificationStatus,
)
from saleor_support_plugin.notifications.unsubscribe import make_token
from saleor_support_plugin.saleor import hooks

from .factories import SaleorOrderFactory, fulfill, set_status
from .fixtures.graphql import PLUGIN_URL


def test_unsubscribe_link_stops_shipping_updates_but_not_transactional_ones(
    db, client, mail_config, smtp_server, on_commit
):
    # given a shipping email with an unsubscribe link
    order = SaleorOrderFactory.create(user__email="alice@example.com")
    on_commit(hooks.fulfillment_created, fulfill(order, tracking_number="T-1"))
    (shipped,) = smtp_server.wait_for(1)
    match = re.search(
        r"<(http://testserver[^>]+)>", shipped.message["List-Unsubscribe"]
    )
    assert match is not None
    url = match.group(1)
    assert shipped.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # when the customer opens it (GET changes nothing) and confirms (POST)
    page = client.get(url)
    assert page.status_code == 200
    assert not EmailOptOut.objects.exists()
    assert client.post(url).status_code == 200
    assert EmailOptOut.objects.filter(email="alice@example.com").exists()
    # then the next shipping update is suppressed, the cancellation still goes out
    second = SaleorOrderFactory.create(user__email="Alice@Example.com")
    on_commit(hooks.fulfillment_created, fulfill(second, tracking_number="T-2"))
    set_status(second, "canceled")
    on_commit(hooks.order_cancelled, second)
    mails = smtp_server.wait_for(2)
    assert [mail.subject for mail in mails][
        1
    ] == f"Your order #{second.number} was cancelled"
    suppressed = Notification.objects.get(kind="shipped", order_id=str(second.pk))
    assert suppressed.status == NotificationStatus.SUPPRESSED
    assert suppressed.reason == "the customer unsubscribed from shipping updates"


def test_one_click_post_twice_is_fine(db, client):
    url = f"{PLUGIN_URL}/unsubscribe/?token={make_token('bob@example.com')}"
    assert client.post(url, {"List-Unsubscribe": "One-Click"}).status_code == 200
    assert client.post(url).status_code == 200
    assert EmailOptOut.objects.count() == 1


def test_tampered_token_is_400_and_records_nothing(db, client):
    token = make_token("bob@example.com")
    response = client.post(f"{PLUGIN_URL}/unsubscribe/?token={token[:-2]}xx")
    assert response.status_code == 400
    assert not EmailOptOut.objects.exists()


def test_unsubscribe_page_escapes_the_address(db, client):
    url = f"{PLUGIN_URL}/unsubscribe/?token={make_token('<b>x</b>@example.com')}"
    assert "<b>x</b>" not in client.get(url).content.decode()
