"""A price drop in the shop refunds the difference once, end to end in the sandbox host."""

from __future__ import annotations

from decimal import Decimal

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.price_protection.models import ClaimState, PriceClaim
from sandbox.order.models import Refund

from .fixtures.price_protection import buy


def test_price_drop_refunds_the_difference_once(db, price_config, change_price):
    # given
    order, line = buy(price="100.00", quantity=2)

    # when
    change_price(line.variant_id, "80.00")
    change_price(line.variant_id, "80.00")

    # then
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.REFUNDED
    assert claim.amount == Decimal("40.00")
    refund = Refund.objects.get()
    assert refund.amount == Decimal("40.000")
    assert refund.order_id == order.pk
    email = Notification.objects.get(kind="price_refunded", channel="email")
    assert email.context["claim"]["amount"] == "40.00 USD"
