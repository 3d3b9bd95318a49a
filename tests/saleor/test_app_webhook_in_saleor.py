"""Saleor 3.24 delivers the desk's PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED webhook to the plugin route.

Saleor builds the payload from the manifest's subscription query, signs it with
its own key (`JWTManager.jws_encode`) and posts it with its HTTP transport; the
plugin verifies the signature with Saleor's key read in-process.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

import requests_hardened  # noqa: E402
from saleor.app.models import App  # noqa: E402
from saleor.core.http_client import HTTPConfig  # noqa: E402
from saleor.core.models import EventDelivery, EventDeliveryStatus  # noqa: E402
from saleor.core.utils import get_domain  # noqa: E402
from saleor.product.interface import VariantDiscountedPriceChange  # noqa: E402
from saleor.webhook.event_types import WebhookEventAsyncType  # noqa: E402
from saleor.webhook.models import Webhook, WebhookEvent  # noqa: E402
from saleor.webhook.transport import signature_for_payload  # noqa: E402
from saleor.webhook.transport import utils as transport_utils  # noqa: E402
from saleor.webhook.transport.asynchronous.transport import (  # noqa: E402
    create_deliveries_for_subscriptions,
    send_webhook_request_async,
)

from saleor_support_plugin import PLUGIN_ID  # noqa: E402
from saleor_support_plugin.desk.subscriptions import (  # noqa: E402
    DISCOUNTED_PRICE_EVENT,
    DISCOUNTED_PRICE_QUERY,
)
from saleor_support_plugin.price_protection.models import (  # noqa: E402
    PriceChange,
    PriceChangeSource,
)

EVENT = WebhookEventAsyncType.PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED


@pytest.fixture
def loopback_transport(monkeypatch):
    """Saleor's webhook HTTP client with HTTP_IP_FILTER_ALLOW_LOOPBACK_IPS on (read at start)."""
    allowed = requests_hardened.Manager(
        dataclasses.replace(HTTPConfig, ip_filter_allow_loopback_ips=True)
    )
    monkeypatch.setattr(transport_utils, "HTTPClient", allowed)


@pytest.fixture
def desk_webhook(live_server, support_plugin, loopback_transport):
    """Install the desk App's webhook as its manifest does, pointing at this live Saleor."""
    app = App.objects.create(name="Support desk", is_active=True)
    webhook = Webhook.objects.create(
        app=app,
        name="Price protection: promotion price changes",
        target_url=f"{live_server.url}/plugins/global/{PLUGIN_ID}/webhooks/saleor/",
        subscription_query=DISCOUNTED_PRICE_QUERY,
        is_active=True,
    )
    WebhookEvent.objects.create(webhook=webhook, event_type=EVENT)
    return webhook


def price_change(variant, channel) -> VariantDiscountedPriceChange:
    return VariantDiscountedPriceChange(
        variant_id=variant.id,
        channel_slug=channel.slug,
        previous_price_amount=Decimal("10.00"),
        new_price_amount=Decimal("8.00"),
        currency=channel.currency_code,
    )


def test_saleor_delivery_is_accepted_and_recorded(desk_webhook, variant, channel_USD):
    # given Saleor's delivery of the event, built from the manifest's query
    assert DISCOUNTED_PRICE_EVENT.lower() == EVENT
    (delivery,) = create_deliveries_for_subscriptions(
        EVENT, price_change(variant, channel_USD), [desk_webhook]
    )

    # when Saleor's async transport sends it (signed with Saleor's own key)
    send_webhook_request_async(delivery.pk)

    # then the plugin answered 2xx (Saleor clears successful deliveries; a
    # failed one stays, marked failed) and recorded it as the hook does
    assert not EventDelivery.objects.filter(pk=delivery.pk).exists()
    change = PriceChange.objects.get()
    assert (change.variant_id, change.channel_slug, change.source) == (
        str(variant.id),
        channel_USD.slug,
        PriceChangeSource.DISCOUNTED_PRICE,
    )


def test_tampered_delivery_is_refused_and_nothing_recorded(
    desk_webhook, variant, channel_USD
):
    # given the body Saleor signed for one variant
    (delivery,) = create_deliveries_for_subscriptions(
        EVENT, price_change(variant, channel_USD), [desk_webhook]
    )
    body = delivery.payload.get_payload().encode()
    signature = signature_for_payload(body, None)
    tampered = body.replace(channel_USD.slug.encode(), b"other-channel")
    assert tampered != body

    # when it arrives with another body under that signature
    response = transport_utils.send_webhook_using_http(
        desk_webhook.target_url, tampered, get_domain(), signature, EVENT
    )

    # then the plugin refused it
    assert response.status == EventDeliveryStatus.FAILED
    assert '"invalid_signature"' in response.content
    assert response.response_status_code == 401
    assert not PriceChange.objects.exists()
