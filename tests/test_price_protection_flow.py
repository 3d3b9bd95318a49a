"""A price drop in the shop refunds the difference once, end to end in the sandbox host."""

from __future__ import annotations

from decimal import Decimal

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.models import OrderSnapshot
from saleor_support_plugin.price_protection.models import ClaimState, PriceClaim
from sandbox.order.models import Refund

from .fixtures.price_protection import buy, reconcile_all


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


def test_the_refund_is_announced_once_not_also_as_a_generic_refund(
    db, price_config, change_price
):
    # given a price-protection refund the shop then reports as refunded
    _, line = buy(price="100.00")
    change_price(line.variant_id, "75.00")
    reconcile_all()

    # then the customer got the price-protection email and no "refund issued"
    kinds = list(
        Notification.objects.filter(channel="email").values_list("kind", flat=True)
    )
    assert kinds.count("price_refunded") == 1
    assert "refund_issued" not in kinds
    assert OrderSnapshot.objects.get().total_refunded == Decimal("25.000")
