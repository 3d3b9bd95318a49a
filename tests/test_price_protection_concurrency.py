"""Exactly one refund per claim step, however triggers race and wherever a worker dies.

On the real PostgreSQL: 50 threads trigger the same drop at once (hooks'
tasks, sweeps and refund executions interleaved); a real Celery worker is
SIGKILLed after the payment stand-in made the refund and before the claim was
marked refunded, and the sweep settles it by the step's key instead of asking
again.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import redis
from django.db import connection
from django.utils import timezone

from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.price_protection.models import (
    ClaimState,
    PriceClaim,
    PriceClaimTransition,
)
from saleor_support_plugin.price_protection.services import (
    detect_price_drops,
    execute_claim_refund,
    process_price_changes,
    settle_in_flight,
    sweep_price_protection,
)
from saleor_support_plugin.saleor import hooks
from sandbox import celery_app
from sandbox.order.models import Refund, VariantChannelListing

from .fixtures.price_protection import buy
from .fixtures.services import CeleryWorkerProcess, database_url


def _lower_price(variant_id: int | None, price: str) -> None:
    """Change the listing without the hook, as a bulk update or a promotion task does."""
    assert variant_id is not None
    VariantChannelListing.objects.filter(variant_id=variant_id).update(
        price_amount=Decimal(price)
    )


def _race(workers: int, work) -> list[BaseException]:
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run(index: int) -> None:
        try:
            start.wait()
            work(index)
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_fifty_parallel_triggers_of_one_drop_request_one_refund(
    transactional_db, price_config
):
    # given two orders of one variant, whose price drops by 15
    _, line = buy(price="60.00", quantity=2)
    buy(price="60.00", variant_id=line.variant_id)
    _lower_price(line.variant_id, "45.00")
    settings = load_settings()
    for _ in range(50):
        hooks.product_variant_updated(type("V", (), {"pk": line.variant_id})())

    # when 50 threads at once process the hooks' events, detect, sweep and execute
    def trigger(index: int) -> None:
        if index % 3 == 0:
            process_price_changes(settings=settings)
        elif index % 3 == 1:
            sweep_price_protection(settings=settings)
        else:
            detect_price_drops(settings=settings, variant_ids=[str(line.variant_id)])
        for claim_id in PriceClaim.objects.values_list("id", flat=True):
            execute_claim_refund(str(claim_id), settings=settings)

    errors = _race(50, trigger)

    # then one claim per line, one refund request and one refund each
    assert errors == []
    claims = list(PriceClaim.objects.all())
    assert sorted(c.amount for c in claims) == [Decimal("15.000"), Decimal("30.000")]
    assert {c.state for c in claims} == {ClaimState.REFUNDED}
    assert sorted(Refund.objects.values_list("amount", flat=True)) == [
        Decimal("15.000"),
        Decimal("30.000"),
    ]
    requested = PriceClaimTransition.objects.filter(to_state="refund_requested")
    assert requested.count() == 2
    assert {c.refund_attempt for c in claims} == {1}
    emails = Notification.objects.filter(kind="price_refunded", channel="email")
    assert emails.count() == 2


def test_a_lost_request_is_made_once_by_the_sweep(transactional_db, price_config):
    # given a claim whose worker died right after committing "refund requested",
    # before it reached the payment stand-in
    price_config(price_protection_auto_approve_limit="0")
    _, line = buy(price="50.00")
    _lower_price(line.variant_id, "40.00")
    settings = load_settings()
    detect_price_drops(settings=settings, variant_ids=[str(line.variant_id)])
    claim = PriceClaim.objects.get(state=ClaimState.PENDING_REVIEW)
    PriceClaim.objects.filter(pk=claim.pk).update(
        state=ClaimState.REFUND_REQUESTED,
        approved_amount=claim.amount,
        refund_attempt=1,
        refund_key=f"ssp-price-claim-{claim.number}-1",
        refund_requested_at=timezone.now() - timedelta(minutes=5),
    )
    assert not Refund.objects.exists()

    # when two sweeps run at once
    errors = _race(2, lambda _: settle_in_flight(settings=settings))

    # then the refund is made once
    assert errors == []
    assert Refund.objects.count() == 1
    assert PriceClaim.objects.get().state == ClaimState.REFUNDED


@pytest.fixture
def slow_refund_worker(transactional_db, redis_server, smtp_server, tmp_path):
    """Start a real worker whose payment stand-in answers 60 s after making the refund."""
    broker_url = celery_app.conf.broker_url
    redis.Redis.from_url(broker_url).flushdb()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "TEST_CELERY_BROKER_URL": broker_url,
        "CELERY_TASK_ALWAYS_EAGER": "false",
        "SUPPORT_SMTP_URL": smtp_server.url,
        "SUPPORT_PRICE_PROTECTION": "true",
        "SANDBOX_REFUND_PAUSE_SECONDS": "60",
    }
    worker = CeleryWorkerProcess(env, tmp_path / "worker.log", concurrency=2)
    eager = celery_app.conf.task_always_eager
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    worker.start()
    yield worker
    worker.kill()
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=eager)


@pytest.mark.services
def test_a_worker_killed_after_the_refund_is_settled_without_a_second_request(
    slow_refund_worker, settings
):
    # given the worker's configuration (price protection on) and a drop it executes
    settings.SUPPORT_PLUGIN = {
        "active": True,
        "configuration": {**settings.SUPPORT_PLUGIN["configuration"]},
    }
    _, line = buy(price="80.00")
    _lower_price(line.variant_id, "70.00")
    detect_price_drops(settings=load_settings(), variant_ids=[str(line.variant_id)])
    claim = PriceClaim.objects.get()

    # when the worker made the refund and is killed before it recorded the answer
    deadline = time.monotonic() + 60
    while not Refund.objects.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Refund.objects.count() == 1
    slow_refund_worker.kill()
    claim.refresh_from_db()
    assert claim.state == ClaimState.REFUND_REQUESTED

    # then the sweep asks the stand-in about the step's key and settles it
    settled = settle_in_flight(
        settings=load_settings(), now=timezone.now() + timedelta(minutes=5)
    )
    claim.refresh_from_db()
    assert settled == 1
    assert claim.state == ClaimState.REFUNDED
    assert Refund.objects.count() == 1
    assert claim.transitions.filter(to_state="refund_requested").count() == 1
    assert (
        Notification.objects.filter(kind="price_refunded", channel="email").count() == 1
    )
