"""A price drop in the shop refunds the difference once, end to end in the sandbox host."""

from __future__ import annotations

import time
from decimal import Decimal
from types import SimpleNamespace

from celery import current_app
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.models import OrderSnapshot
from saleor_support_plugin.price_protection.models import (
    ClaimState,
    PriceChange,
    PriceClaim,
)
from saleor_support_plugin.saleor import hooks
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


def test_variant_hooks_run_one_insert_and_read_nothing(
    db, price_config, request, django_capture_on_commit_callbacks
):
    # given the variant objects Saleor hands to the hooks
    eager = current_app.conf.task_always_eager
    current_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    request.addfinalizer(
        lambda: current_app.conf.update(CELERY_TASK_ALWAYS_EAGER=eager)
    )
    variant = SimpleNamespace(pk=4242)
    change = SimpleNamespace(
        variant_id="4242",
        channel_slug="default-channel",
        previous_price_amount=Decimal(10),
        new_price_amount=Decimal(8),
        currency="USD",
    )
    for hook, subject in (
        (hooks.product_variant_updated, variant),
        (hooks.product_variant_discounted_price_updated, change),
    ):
        # when the hook runs inside Saleor's transaction
        with django_capture_on_commit_callbacks(execute=False) as after_commit:
            with CaptureQueriesContext(connection) as in_request:
                hook(subject)
        # then no SQL there, and one INSERT after the commit
        assert in_request.captured_queries == [], hook.__name__
        with CaptureQueriesContext(connection) as after:
            for callback in after_commit:
                callback()
        statements = [query["sql"] for query in after.captured_queries]
        assert len(statements) == 1, (hook.__name__, statements)
        assert statements[0].startswith("INSERT INTO saleor_support_plugin_pricechange")
    assert list(
        PriceChange.objects.order_by("id").values_list("variant_id", "channel_slug")
    ) == [("4242", ""), ("4242", "default-channel")]
    # Let the publisher thread publish while Celery is still not eager, so it
    # does not run the task (and open a connection) after the test.
    time.sleep(0.2)


def test_a_promotion_price_counts_and_its_end_changes_nothing(
    db, price_config, change_price
):
    # given a purchase at 100
    _, line = buy(price="100.00")

    # when a promotion discounts it to 85, then ends
    change_price(line.variant_id, discounted_price=Decimal("85.00"))
    change_price(line.variant_id, clear_discount=True)

    # then the discounted price was compared: one refund of 15, kept
    assert list(Refund.objects.values_list("amount", flat=True)) == [Decimal("15.000")]
    assert PriceClaim.objects.get().state == ClaimState.REFUNDED


def test_the_sandbox_command_lowers_a_price_and_reports_the_claim(
    transactional_db, price_config, capsys
):
    # given a purchase of variant 9100
    _, line = buy(price="89.00", variant_id=9100)

    # when the merchant lowers its price with the sandbox command (eager worker)
    call_command("set_price", "9100", "79.00", "--wait", "0")

    # then the drop was refunded and the command says what it did
    out = capsys.readouterr().out
    assert "89.00 USD → 79.00 USD" in out
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.REFUNDED
    assert f"{claim.reference} on order #" in out
    assert "refunded" in out
