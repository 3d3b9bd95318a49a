"""Poison carrier events: refused at the webhook, and given up on after bounded attempts if one gets in."""

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
import time_machine
from django.core.management import call_command

from saleor_support_plugin.notifications.services import sweep_outbox
from saleor_support_plugin.orders.models import OrderEvent, OrderEventType
from saleor_support_plugin.orders.services import (
    MAX_PROCESSING_ATTEMPTS,
    process_event,
    record_event,
)
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.saleor import hooks
from saleor_support_plugin.tasks import sweep_outbox_task

from .factories import SaleorOrderFactory
from .fixtures.support import carrier_event

# Year 10000 and year 0 in UTC: PostgreSQL stores both, Python cannot load either.
POISON_TIMES = [
    datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),
    datetime(1, 1, 1, 0, 0, 0, tzinfo=timezone(timedelta(hours=14))),
]


def _state(key):
    # Only the bookkeeping columns: the row's occurred_at cannot be loaded.
    return (
        OrderEvent.objects.filter(idempotency_key=key)
        .values("failed_attempts", "last_error", "outcome", "processed_at")
        .get()
    )


def _insert_poison(key, occurred_at):
    """Write a carrier event row as the old webhook accepted it, past its checks."""
    record_event(
        type=OrderEventType.CARRIER,
        key=key,
        occurred_at=occurred_at,
        extra={
            "event_id": key,
            "tracking_number": "POISON-1",
            "status": "delivered",
            "occurred_at": occurred_at.isoformat(),
        },
    )


@pytest.mark.parametrize(
    "occurred_at",
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "2024-01-01T00:00:00Z",  # older than a year
        "2099-01-01T00:00:00Z",  # far ahead
    ],
)
def test_poison_occurred_at_is_refused_over_http(
    live_server, support_config, occurred_at
):
    # given
    import requests

    from .fixtures.support import CARRIER_URL, signed_carrier_request

    raw, headers = signed_carrier_request(
        carrier_event(event_id="poison-http", occurred_at=occurred_at)
    )
    # when
    response = requests.post(
        f"{live_server.url}{CARRIER_URL}",
        data=raw,
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )
    # then
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"
    assert response.json()["error"]["field"] == "occurred_at"
    assert not OrderEvent.objects.exists()


@pytest.mark.parametrize("occurred_at", POISON_TIMES)
def test_processor_gives_up_on_a_poison_row_after_the_bound(
    db, support_config, caplog, occurred_at
):
    # given a poison row in the log
    _insert_poison("carrier:poison", occurred_at)
    settings = load_settings()
    caplog.set_level(logging.WARNING, logger="saleor_support_plugin.orders.services")
    # when the processor runs more often than the bound
    for _ in range(MAX_PROCESSING_ATTEMPTS + 3):
        assert process_event("carrier:poison", settings=settings) == []
    # then it stopped at the bound, with the outcome recorded
    state = _state("carrier:poison")
    assert state["failed_attempts"] == MAX_PROCESSING_ATTEMPTS
    assert state["processed_at"] is not None
    assert state["outcome"].startswith("failed: DataError")
    assert state["last_error"].startswith("DataError")
    records = [r for r in caplog.records if r.name.endswith("orders.services")]
    assert [r.levelno for r in records] == [logging.WARNING] * (
        MAX_PROCESSING_ATTEMPTS - 1
    ) + [logging.ERROR]
    # one traceback, when giving up; none per attempt
    assert [r.exc_info is not None for r in records].count(True) == 1


def test_sweeper_stops_redispatching_a_poison_row_and_processes_the_others(
    db, support_config, on_commit
):
    # given a poison row and an order whose events were never processed (broker down)
    start = datetime.now(UTC)
    _insert_poison("carrier:poison", POISON_TIMES[0])
    order = SaleorOrderFactory.create()
    on_commit(hooks.order_created, order)
    OrderEvent.objects.exclude(idempotency_key="carrier:poison").update(
        processed_at=None
    )
    healthy = list(
        OrderEvent.objects.exclude(idempotency_key="carrier:poison").values_list(
            "idempotency_key", flat=True
        )
    )
    # when the sweeper runs every 30 s for a while
    for sweep in range(1, MAX_PROCESSING_ATTEMPTS + 4):
        with time_machine.travel(start + timedelta(seconds=30 * sweep), tick=False):
            sweep_outbox_task()
    # then the others were processed and the poison row is no longer swept
    assert healthy
    assert not OrderEvent.objects.filter(
        idempotency_key__in=healthy, processed_at__isnull=True
    ).exists()
    assert _state("carrier:poison")["failed_attempts"] == MAX_PROCESSING_ATTEMPTS
    later = start + timedelta(hours=1)
    assert "carrier:poison" not in sweep_outbox(now=later).events


def test_seeding_survives_a_poison_row(
    db, django_capture_on_commit_callbacks, settings
):
    # given a poison row left from an earlier run
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    _insert_poison("carrier:poison", POISON_TIMES[0])
    # when the sandbox seeds (it processes pending events at once)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", verbosity=0)
    # then the demo orders are there and the poison row counted one failure
    assert (
        OrderEvent.objects.filter(processed_at__isnull=True)
        .values_list("idempotency_key", flat=True)
        .get()
        == "carrier:poison"
    )
    assert _state("carrier:poison")["failed_attempts"] == 1
