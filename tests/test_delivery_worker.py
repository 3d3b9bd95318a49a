"""Exactly once with a real Celery worker on a real Redis broker and a real SMTP server."""

import time

import pytest

from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.saleor import hooks
from saleor_support_plugin.tasks import sweep_outbox_task

from .factories import SaleorOrderFactory

pytestmark = pytest.mark.services


def wait_until(condition, timeout=30.0, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"Timed out waiting for {message}")


@pytest.fixture
def worker_config(support_config, smtp_server):
    # The worker process reads the same configuration (SUPPORT_SMTP_URL in its environment).
    support_config(smtp_url=smtp_server.url)


def test_worker_killed_mid_delivery_loses_nothing_and_doubles_nothing(
    celery_worker, smtp_server, worker_config, settings
):
    # given a slow SMTP server: the worker will be waiting for "250" when it dies
    smtp_server.data_delay = 3.0
    order = SaleorOrderFactory.create()
    hooks.order_confirmed(
        order
    )  # autocommit: processing is enqueued to the real broker
    wait_until(
        lambda: smtp_server.data_started == 1, message="the worker to start SMTP DATA"
    )
    # when the worker is killed mid-delivery
    celery_worker.kill()
    wait_until(
        lambda: smtp_server.dropped == 1,
        message="the SMTP server to drop the orphaned message",
    )
    assert smtp_server.messages == []
    notification = Notification.objects.get()
    assert (
        notification.status == NotificationStatus.PENDING
    )  # its transaction died with the worker
    # and a new worker starts; the sweeper finds the stuck row
    smtp_server.data_delay = 0
    celery_worker.start()
    settings.SUPPORT_STUCK_AFTER_SECONDS = 0

    def redispatched() -> bool:
        # The dead worker's lock may take a moment to be released by PostgreSQL.
        sweep_outbox_task()
        before = notification.last_dispatched_at
        after = Notification.objects.get().last_dispatched_at
        return before is not None and after is not None and after > before

    wait_until(redispatched, message="the sweeper to re-dispatch the row")
    # then the customer gets the email exactly once
    mails = smtp_server.wait_for(1, timeout=30)
    wait_until(
        lambda: Notification.objects.get().status == NotificationStatus.SENT,
        message="sent",
    )
    time.sleep(1)  # would a duplicate arrive?
    assert [mail.subject for mail in smtp_server.messages] == [
        f"Your order #{order.number} is confirmed"
    ]
    assert len(mails) == 1
    assert mails[0].message["Message-ID"] == notification.message_id


def test_smtp_down_while_events_arrive_then_up_delivers_each_once(
    celery_worker, smtp_server, worker_config
):
    # given the SMTP server is down while five orders are confirmed and cancelled
    smtp_server.stop()
    orders = [SaleorOrderFactory.create() for _ in range(5)]
    for order in orders:
        hooks.order_confirmed(order)
        hooks.order_confirmed(order)  # a repeated hook
    wait_until(
        lambda: Notification.objects.filter(attempts__gte=1).count() == 5,
        message="first failed attempts",
    )
    # when it comes back (the worker retries on its own backoff)
    smtp_server.start()
    # then every email arrives exactly once
    smtp_server.wait_for(5, timeout=60)
    wait_until(
        lambda: (
            Notification.objects.filter(status=NotificationStatus.SENT).count() == 5
        ),
        timeout=60,
    )
    time.sleep(2)
    subjects = sorted(mail.subject for mail in smtp_server.messages)
    assert subjects == sorted(
        f"Your order #{order.number} is confirmed" for order in orders
    )
