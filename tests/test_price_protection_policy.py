"""The price-protection policy's rules, one by one, and through detection on real rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import TestCase

from saleor_support_plugin.conf import parse_settings
from saleor_support_plugin.price_protection.data import VariantPrice
from saleor_support_plugin.price_protection.models import ClaimState, PriceClaim
from saleor_support_plugin.price_protection.policy import (
    Limits,
    LineFacts,
    PricePolicy,
    get_policy,
)
from saleor_support_plugin.saleor import hooks
from sandbox.order.actions import fulfill
from sandbox.order.models import (
    Fulfillment,
    FulfillmentLine,
    Refund,
    VariantChannelListing,
)

from .factories import (
    SaleorOrderFactory,
    SaleorOrderLineFactory,
    refund,
    return_items,
)
from .fixtures.price_protection import buy, reconcile_all


def policy(**configuration) -> PricePolicy:
    return PricePolicy(
        parse_settings({"price_protection_enabled": True, **configuration}, active=True)
    )


def line(**overrides) -> LineFacts:
    values: dict[str, Any] = {
        "line_id": "l1",
        "placed_at": datetime(2026, 3, 1, 12, tzinfo=UTC),
        "currency": "USD",
        "quantity_kept": 1,
        "unit_price_gross": Decimal("100.00"),
        "unit_price_net": Decimal("100.00"),
    }
    values.update(overrides)
    return LineFacts(**values)


# --- the window, in the business time zone


@pytest.mark.parametrize(
    ("now", "inside"),
    [
        # Placed 1 March 00:30 Berlin (28 Feb 23:30 UTC): day 30 is 31 March.
        (datetime(2026, 3, 31, 21, 59, tzinfo=UTC), True),  # 31 March 23:59 Berlin
        (datetime(2026, 3, 31, 22, 0, tzinfo=UTC), False),  # 1 April 00:00 Berlin
    ],
)
def test_window_counts_calendar_days_in_the_business_time_zone(now, inside):
    # given an order placed just after midnight in Berlin, before midnight in UTC
    placed = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    rules = policy(business_timezone="Europe/Berlin", price_protection_window_days="30")

    # then it is protected through day 30 local and not on day 31
    assert rules.in_window(placed, now) is inside


def test_the_same_instant_is_out_of_the_window_in_utc():
    # given the same order and moment as above, counted in UTC
    placed = datetime(2026, 2, 28, 23, 30, tzinfo=UTC)
    rules = policy(business_timezone="UTC", price_protection_window_days="30")

    # then day 31 (in UTC) is already out
    assert not rules.in_window(placed, datetime(2026, 3, 31, 0, 0, tzinfo=UTC))
    assert rules.in_window(placed, datetime(2026, 3, 30, 23, 59, tzinfo=UTC))


# --- amounts


def test_gross_prices_compare_directly():
    rules = policy()
    assert rules.line_target(
        line(quantity_kept=3), Decimal("90.00"), gross=True
    ) == Decimal("30.00")


def test_net_prices_are_compared_net_and_refunded_with_their_tax():
    # given a line paid 119.00 gross / 100.00 net, in a channel entering prices net
    facts = line(unit_price_gross=Decimal("119.00"), unit_price_net=Decimal("100.00"))

    # when the net price drops to 90.00
    target = policy().line_target(facts, Decimal("90.00"), gross=False)

    # then 10.00 net is refunded as 11.90 gross
    assert target == Decimal("11.90")


def test_a_gross_price_is_not_compared_with_a_net_one():
    # given the same line; the listing is gross 110.00 (above net paid, below gross paid)
    facts = line(unit_price_gross=Decimal("119.00"), unit_price_net=Decimal("100.00"))

    # then on a gross basis it is a drop of 9.00, and on a net basis none
    assert policy().line_target(facts, Decimal("110.00"), gross=True) == Decimal("9.00")
    assert policy().line_target(facts, Decimal("110.00"), gross=False) == Decimal(
        "0.00"
    )


@pytest.mark.parametrize(
    ("currency", "paid", "now", "expected"),
    [
        ("JPY", "10000", "9333.7", Decimal("666")),  # no minor unit, rounded down
        ("KWD", "10.000", "9.3337", Decimal("0.666")),  # three decimals
        ("USD", "10.00", "9.333", Decimal("0.66")),
    ],
)
def test_amounts_are_quantized_to_the_currency_never_rounding_a_refund_up(
    currency, paid, now, expected
):
    facts = line(
        currency=currency,
        unit_price_gross=Decimal(paid),
        unit_price_net=Decimal(paid),
    )
    amount = policy().line_target(facts, Decimal(now), gross=True)
    assert amount == expected
    assert amount.as_tuple().exponent == expected.as_tuple().exponent


def test_a_further_drop_refunds_only_the_additional_difference():
    rules = policy()
    first = rules.additional_amount(line(quantity_kept=2), Decimal("90"), gross=True)
    second = rules.additional_amount(
        line(quantity_kept=2, already_claimed=first), Decimal("70"), gross=True
    )
    assert (first, second) == (Decimal("20.00"), Decimal("40.00"))


def test_a_price_that_rises_again_changes_nothing():
    rules = policy()
    claimed = line(quantity_kept=2, already_claimed=Decimal("60.00"))
    assert rules.additional_amount(claimed, Decimal("90"), gross=True) == 0
    assert rules.additional_amount(claimed, Decimal("70"), gross=True) == 0


def test_never_more_than_was_paid_for_the_line():
    # given a line claimed almost to its price
    facts = line(already_claimed=Decimal("95.00"))

    # when the price drops to zero
    amount = policy().additional_amount(facts, Decimal("0"), gross=True)

    # then only what is left of what was paid
    assert amount == Decimal("5.00")


def test_caps_limit_the_amount():
    rules = policy()
    assert rules.apply_caps(
        Decimal("40"), Limits(order=Decimal("25"), customer=Decimal("30")), "USD"
    ) == Decimal("25.00")
    assert rules.apply_caps(
        Decimal("40"), Limits(order=None, customer=Decimal("-3")), "USD"
    ) == Decimal("0.00")


def test_exclusion_mark_by_key_and_value():
    price = VariantPrice(
        "1", "c", Decimal(1), "USD", metadata={"price_protection": "Exclude"}
    )
    other = VariantPrice(
        "1", "c", Decimal(1), "USD", metadata={"price_protection": "no"}
    )
    assert policy().is_excluded(price)
    assert not policy().is_excluded(other)
    assert policy(price_protection_exclude_metadata="open_box").is_excluded(
        VariantPrice("1", "c", Decimal(1), "USD", metadata={"open_box": "yes"})
    )
    assert not policy(price_protection_exclude_metadata="").is_excluded(price)


class GenerousPolicy(PricePolicy):
    """A merchant's policy: drops under 5 are not worth it, whatever the setting."""

    def worth_refunding(self, amount):
        return amount >= 5


def test_the_policy_class_is_replaceable_by_a_setting(settings):
    # given the Django setting naming a subclass
    settings.SUPPORT_PRICE_PROTECTION_POLICY = (
        "tests.test_price_protection_policy:GenerousPolicy"
    )

    # when the plugin loads its policy
    loaded = get_policy(parse_settings({}, active=True))

    # then it is the merchant's class, with the merchant's rule
    assert isinstance(loaded, GenerousPolicy)
    assert not loaded.worth_refunding(Decimal("4.99"))


# --- through detection, on real rows


def test_only_quantities_the_customer_kept_are_refunded(db, price_config, change_price):
    # given 3 bought, shipped, and 2 returned
    order, bought = buy(price="50.00", quantity=3)

    fulfill(order)
    returned = Fulfillment.objects.create(
        order=order, fulfillment_order=2, status="returned"
    )
    FulfillmentLine.objects.create(fulfillment=returned, order_line=bought, quantity=2)

    with TestCase.captureOnCommitCallbacks(execute=True):
        hooks.order_updated(order)
        reconcile_all()

    # when the price drops by 10
    change_price(bought.variant_id, "40.00")

    # then the one item kept is refunded
    claim = PriceClaim.objects.get()
    assert (claim.quantity, claim.amount) == (1, Decimal("10.000"))


def test_cancelled_and_fully_returned_orders_get_nothing(
    db, price_config, change_price
):
    # given a cancelled order and a fully returned one of the same variant
    cancelled, item = buy(price="50.00", variant_id=7001, status="canceled")
    returned, _ = buy(price="50.00", variant_id=7001)

    fulfill(returned)
    return_items(returned)

    with TestCase.captureOnCommitCallbacks(execute=True):
        hooks.order_updated(returned)
        reconcile_all()

    # when the price drops
    change_price(7001, "30.00")

    # then no claim
    assert not PriceClaim.objects.exists()


def test_repeated_drops_refund_the_extra_and_a_rise_changes_nothing(
    db, price_config, change_price
):
    # given
    order, bought = buy(price="100.00", quantity=2)

    # when the price goes 90 → 95 → 90 → 70 → 100
    for price in ("90.00", "95.00", "90.00", "70.00", "100.00"):
        change_price(bought.variant_id, price)

    # then two refunds: 2 × 10, then 2 × 20 more; nothing for the rise or the repeat
    amounts = sorted(Refund.objects.values_list("amount", flat=True))
    assert amounts == [Decimal("20.000"), Decimal("40.000")]
    assert set(PriceClaim.objects.values_list("state", flat=True)) == {
        ClaimState.REFUNDED
    }


def test_outside_the_window_nothing_is_claimed(db, price_config, change_price):
    # given an order placed 31 days ago (30-day window)
    old, item = buy(price="100.00", placed_at=datetime.now(UTC) - timedelta(days=31))

    # when the price drops
    change_price(item.variant_id, "50.00")

    # then nothing
    assert not PriceClaim.objects.exists()


def test_an_excluded_product_is_never_claimed(db, price_config, change_price):
    _, item = buy(price="100.00", metadata={"price_protection": "exclude"})
    change_price(item.variant_id, "50.00")
    assert not PriceClaim.objects.exists()


def test_a_drop_below_the_minimum_is_not_refunded(db, price_config, change_price):
    price_config(price_protection_minimum="5")
    _, item = buy(price="100.00")
    change_price(item.variant_id, "96.00")
    assert not PriceClaim.objects.exists()
    change_price(item.variant_id, "95.00")
    assert PriceClaim.objects.get().amount == Decimal("5.000")


def test_above_the_auto_approve_limit_a_claim_waits_for_review(
    db, price_config, change_price
):
    price_config(price_protection_auto_approve_limit="20")
    _, item = buy(price="100.00")
    change_price(item.variant_id, "70.00")
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.PENDING_REVIEW
    assert not Refund.objects.exists()
    assert list(
        claim.transitions.values_list("from_state", "to_state", "actor_kind")
    ) == [
        ("", "detected", "system"),
        ("detected", "pending_review", "system"),
    ]


def test_the_per_order_cap_limits_all_lines_of_the_order(
    db, price_config, change_price
):
    # given a cap of 15 per order and two lines of one order
    price_config(price_protection_order_cap="15")

    lines = [
        SaleorOrderLineFactory.build(
            variant_id=variant,
            unit_price_gross_amount=Decimal("50"),
            undiscounted_unit_price_gross_amount=Decimal("50"),
        )
        for variant in (8001, 8002)
    ]
    order = SaleorOrderFactory.create(lines=lines, total_gross_amount=Decimal("100"))

    for variant in (8001, 8002):
        VariantChannelListing.objects.create(
            variant_id=variant, currency="USD", price_amount=Decimal("50")
        )
    with TestCase.captureOnCommitCallbacks(execute=True):
        hooks.order_created(order)
        reconcile_all()

    # when both drop by 10
    change_price(8001, "40")
    change_price(8002, "40")

    # then 10 + 5 (the cap), not 20
    assert sorted(PriceClaim.objects.values_list("amount", flat=True)) == [
        Decimal("5.000"),
        Decimal("10.000"),
    ]


def test_the_per_customer_cap_counts_a_rolling_year(
    db, price_config, change_price, customer_user
):
    # given a cap of 25 per customer; two orders of hers, each drop worth 20
    price_config(price_protection_customer_cap="25")
    _, first = buy(price="100.00", user=customer_user)
    _, second = buy(price="100.00", user=customer_user)

    # when both drop
    change_price(first.variant_id, "80.00")
    change_price(second.variant_id, "80.00")

    # then 20 + 5
    assert sorted(PriceClaim.objects.values_list("amount", flat=True)) == [
        Decimal("5.000"),
        Decimal("20.000"),
    ]


def test_never_more_than_the_order_has_left_after_other_refunds(
    db, price_config, change_price
):
    # given an order of 100, of which the shop already refunded 95
    order, item = buy(price="100.00")
    refund(order, Decimal("95.00"))

    with TestCase.captureOnCommitCallbacks(execute=True):
        hooks.order_refunded(order)
        reconcile_all()

    # when the price halves
    change_price(item.variant_id, "50.00")

    # then 5 at most
    assert PriceClaim.objects.get().amount == Decimal("5.000")
