"""Whatever order the events of a change arrive in, and however workers race, the customer hears the same.

Saleor reports one change through several hooks (orderFulfillmentUpdateTracking:
`tracking_number_updated` then `order_updated`; a refund: `order_refunded`
beside `order_updated`). Each becomes an event and a task, and tasks run in
parallel. The reconciler decides from the order as it is now and from what
the outbox already told, so neither arrival order nor races change the emails.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.orders.models import OrderEvent
from saleor_support_plugin.orders.services import process_event
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.saleor import hooks

from .factories import (
    SaleorOrderFactory,
    fulfill,
    refund,
    return_items,
    update_tracking,
)

Hook = tuple[Callable[[Any], None], Any]


def step_ship(order) -> list[Hook]:
    """Fulfill with a tracking number; return the hooks Saleor calls for it (orderFulfill)."""
    fulfillment = fulfill(order, tracking_number=f"A-{order.number}")
    return [
        (hooks.tracking_number_updated, fulfillment),
        (hooks.fulfillment_created, fulfillment),
        (hooks.order_fulfilled, order),
        (hooks.order_updated, order),
    ]


def step_tracking(number: str) -> Callable[[Any], list[Hook]]:
    def step(order) -> list[Hook]:
        fulfillment = order.fulfillments.first()
        update_tracking(fulfillment, f"{number}-{order.number}")
        return [
            (hooks.tracking_number_updated, fulfillment),
            (hooks.order_updated, order),
        ]

    return step


def step_refund(amount: str, fully: bool = False) -> Callable[[Any], list[Hook]]:
    def step(order) -> list[Hook]:
        refund(order, Decimal(amount))
        hook = hooks.order_refunded  # order_fully_refunded maps to the same hook
        return [(hook, order), (hooks.order_updated, order)] + (
            [(hook, order)] if fully else []
        )

    return step


def step_return(order) -> list[Hook]:
    return_items(order)
    return [(hooks.order_updated, order)]


# tracking A, B, then back to A: A → B → A is news each time
STEPS = [
    step_ship,
    step_tracking("B"),
    step_refund("10.00"),
    step_return,
    step_refund("20.00", fully=True),
    step_tracking("A"),
]


def expected_updates(number: int) -> list[tuple[str, str]]:
    return [
        ("shipped", f"A-{number}"),
        ("tracking_updated", f"B-{number}"),
        ("refund_issued", "10.00"),
        ("return_received", ""),
        ("refund_issued", "20.00"),
        ("tracking_updated", f"A-{number}"),
    ]


def told(order) -> list[tuple[str, str]]:
    """Return the order's email updates in the order they were written, with what they said."""
    rows = Notification.objects.filter(order_id=str(order.pk), channel="email")
    result = []
    for row in rows.order_by("created_at"):
        if row.kind == "refund_issued":
            detail = row.context["refund"]["amount"].split()[0]
        elif row.kind in ("shipped", "tracking_updated"):
            detail = row.context["fulfillment"]["tracking_number"]
        else:
            detail = ""
        result.append((row.kind, detail))
    return result


def record_unprocessed(calls: list[Hook], capture) -> list[str]:
    """Run hooks as Saleor does after its commit, leaving their events unprocessed."""
    with capture(execute=False) as inserts:
        for hook, subject in calls:
            hook(subject)
    for insert in inserts:
        with capture(execute=False):  # drop the enqueue: the test picks the order
            insert()
    return list(
        OrderEvent.objects.filter(processed_at__isnull=True)
        .order_by("created_at")
        .values_list("idempotency_key", flat=True)
    )


def test_every_order_of_arrival_gives_the_same_updates(
    db, support_config, django_capture_on_commit_callbacks
):
    # given one order per permutation of the largest step (orderFulfill: 4 hooks)
    settings = load_settings()
    orders = [SaleorOrderFactory.create() for _ in range(24)]
    for step in STEPS:
        for index, order in enumerate(orders):
            keys = record_unprocessed(step(order), django_capture_on_commit_callbacks)
            # when the step's events are processed in this order's permutation of them
            permutations = list(itertools.permutations(keys))
            for key in permutations[index % len(permutations)]:
                process_event(key, settings=settings)
    # then every order's customer was told exactly the same, in the same order
    for order in orders:
        assert told(order) == expected_updates(order.number), order.number
    # and no event disappeared silently: each is processed and says what it led to
    assert not OrderEvent.objects.filter(processed_at__isnull=True).exists()
    assert not OrderEvent.objects.filter(outcome="").exists()


def test_an_event_processed_after_a_later_one_changes_nothing(
    db, support_config, django_capture_on_commit_callbacks
):
    # given the race that lost "tracking updated" emails: order_updated first
    settings = load_settings()
    order = SaleorOrderFactory.create()
    for key in record_unprocessed(step_ship(order), django_capture_on_commit_callbacks):
        process_event(key, settings=settings)
    (tracking_hook, updated_hook) = step_tracking("B")(order)
    # when the order_updated event is processed before the tracking event is even recorded
    (updated,) = record_unprocessed([updated_hook], django_capture_on_commit_callbacks)
    process_event(updated, settings=settings)
    (tracking,) = record_unprocessed(
        [tracking_hook], django_capture_on_commit_callbacks
    )
    process_event(tracking, settings=settings)
    # then the new number is announced once, by whichever event came first
    assert told(order) == expected_updates(order.number)[:2]
    outcomes = dict(
        OrderEvent.objects.filter(idempotency_key__in=[tracking, updated]).values_list(
            "idempotency_key", "outcome"
        )
    )
    assert outcomes == {
        updated: "tracking_updated queued",
        tracking: "nothing new: the customer was already told the order's current state",
    }


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"Timed out waiting for {message}")


def settled() -> bool:
    return (
        not OrderEvent.objects.filter(processed_at__isnull=True).exists()
        and not Notification.objects.filter(status=NotificationStatus.PENDING).exists()
    )


@pytest.mark.services
def test_racing_workers_lose_and_double_nothing_over_hundreds_of_orders(
    concurrent_celery_worker, smtp_server, support_config
):
    # given 120 committed orders and a worker running four tasks at once
    support_config(smtp_url=smtp_server.url)
    rng = random.Random(8)
    orders = [SaleorOrderFactory.create() for _ in range(120)]
    for step in STEPS:
        # when each change fires its hooks (after Saleor's commit), all orders'
        # hooks shuffled together, so one order's events race on the workers
        calls = [call for order in orders for call in step(order)]
        rng.shuffle(calls)
        for hook, subject in calls:
            hook(subject)
        wait_until(settled, timeout=120, message=f"{step} to be processed")
    # then every customer got each update exactly once, nothing lost
    wait_until(
        lambda: len(smtp_server.messages) >= 6 * len(orders),
        timeout=60,
        message="every email",
    )
    time.sleep(1)  # would a duplicate arrive?
    for order in orders:
        assert told(order) == expected_updates(order.number), order.number
    subjects = Counter(mail.subject for mail in smtp_server.messages)
    for order in orders:
        n = order.number
        assert subjects[f"Your order #{n} is on its way"] == 1
        assert subjects[f"New tracking details for order #{n}"] == 2
        assert subjects[f"Your refund for order #{n}"] == 2
        assert subjects[f"We received your return for order #{n}"] == 1
    assert len(smtp_server.messages) == 6 * len(orders)
    assert not Notification.objects.exclude(status=NotificationStatus.SENT).exists()
    assert not OrderEvent.objects.filter(outcome="").exists()


def test_an_order_met_late_keeps_its_past_as_history_and_hears_what_is_new(
    db, support_config, on_commit
):
    # given an order shipped and partly refunded days before the plugin was installed
    from datetime import timedelta

    from django.utils import timezone

    from sandbox.order.models import Fulfillment, TransactionItem

    long_ago = timezone.now() - timedelta(days=9)
    order = SaleorOrderFactory.create(created_at=long_ago)
    fulfillment = fulfill(order, tracking_number="OLD-1")
    refund(order, Decimal("5.00"))
    Fulfillment.objects.filter(pk=fulfillment.pk).update(created_at=long_ago)
    TransactionItem.objects.filter(order=order).update(modified_at=long_ago)
    # when the plugin first hears of it (any change: here a staff note)
    on_commit(hooks.order_updated, order)
    # then its past is recorded as told, and nothing is sent
    rows = Notification.objects.filter(order_id=str(order.pk), channel="email")
    assert sorted(rows.values_list("kind", "status", "reason")) == [
        ("refund_issued", "suppressed", "it happened before the plugin knew the order"),
        ("shipped", "suppressed", "it happened before the plugin knew the order"),
    ]
    # and what changes from now on is news, measured against that past
    update_tracking(fulfillment, "NEW-2")
    on_commit(hooks.tracking_number_updated, fulfillment)
    refund(order, Decimal("7.50"))
    on_commit(hooks.order_refunded, order)
    assert told(order)[2:] == [
        ("tracking_updated", "NEW-2"),
        ("refund_issued", "7.50"),
    ]
    assert [row.status for row in rows.order_by("created_at")][2:] == ["sent", "sent"]
