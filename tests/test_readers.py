from decimal import Decimal

import pytest

from saleor_support_plugin.orders.data import FulfillmentLineData
from saleor_support_plugin.saleor.readers import read_fulfillment, read_order

from .factories import SaleorOrderFactory, SaleorOrderLineFactory, fulfill

pytestmark = pytest.mark.django_db


def test_read_order_copies_what_support_needs():
    # given
    order = SaleorOrderFactory.create(
        language_code="de",
        currency="EUR",
        user__email="Kunde@Example.com",
        lines=[
            SaleorOrderLineFactory.create(
                quantity=2, unit_price_gross_amount=Decimal("10.00"), currency="EUR"
            ),
            SaleorOrderLineFactory.create(
                variant_id=None, product_sku=None, currency="EUR"
            ),
        ],
    )
    fulfill(order, tracking_number="1Z999")
    # when
    data = read_order(order)
    # then
    assert data.order_id == str(order.pk)
    assert data.number == str(order.number)
    assert data.channel_slug == "default-channel"
    assert data.customer_email == "kunde@example.com"
    assert order.user is not None
    assert data.user_id == str(order.user.pk)
    assert data.language_code == "de"
    assert [
        (line.quantity, line.unit_price_gross, line.currency) for line in data.lines
    ] == [
        (2, Decimal("10.00"), "EUR"),
        (1, Decimal("59.90"), "EUR"),
    ]
    assert data.lines[1].variant_id is None
    assert data.lines[1].sku is None
    assert data.fulfillments[0].tracking_number == "1Z999"
    assert data.fulfillments[0].composed_id == f"{order.number}-1"
    assert data.status == "fulfilled"


def test_read_order_of_a_guest_uses_the_order_email():
    order = SaleorOrderFactory.create(user=None, user_email="guest@example.com")
    data = read_order(order)
    assert data.user_id is None
    assert data.customer_email == "guest@example.com"


def test_read_fulfillment_lists_its_lines():
    order = SaleorOrderFactory.create(lines=[SaleorOrderLineFactory.create(quantity=3)])
    fulfillment = fulfill(order)
    data = read_fulfillment(fulfillment)
    assert data.lines == (
        FulfillmentLineData(line_id=str(order.lines.first().pk), quantity=3),
    )
    assert data.order_id == str(order.pk)
    assert data.status == "fulfilled"
