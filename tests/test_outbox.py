"""The outbox under failure: SMTP down, bounces, retries, sweeping (eager Celery, real SMTP)."""

from datetime import timedelta

import time_machine
from django.utils import timezone

from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.notifications.services import (
    backoff,
    deliver_notification,
    sweep_outbox,
)
from saleor_support_plugin.orders.models import OrderEvent
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.saleor import hooks
from saleor_support_plugin.tasks import sweep_outbox_task

from .factories import SaleorOrderFactory


def test_smtp_down_then_up_delivers_every_email_once(
    db, mail_config, smtp_server, on_commit
):
    # given the SMTP server is down while three orders are confirmed
    smtp_server.stop()
    orders = [SaleorOrderFactory.create() for _ in range(3)]
    for order in orders:
        on_commit(hooks.order_confirmed, order)
    pending = Notification.objects.filter(status=NotificationStatus.PENDING)
    assert pending.count() == 3
    assert {n.attempts for n in pending} == {1}
    assert all("SMTP unavailable" in n.last_error for n in pending)
    # when it comes back and the sweeper runs after the backoff (twice)
    smtp_server.start()
    later = timezone.now() + timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        on_commit(sweep_outbox_task)
        on_commit(sweep_outbox_task)
    # then each customer got exactly one email
    mails = smtp_server.wait_for(3)
    assert sorted(mail.subject for mail in mails) == sorted(
        f"Your order #{o.number} is confirmed" for o in orders
    )
    assert len(smtp_server.messages) == 3
    assert (
        Notification.objects.filter(status=NotificationStatus.SENT, attempts=2).count()
        == 3
    )


def test_retry_waits_for_its_backoff(db, mail_config, smtp_server, on_commit):
    smtp_server.stop()
    on_commit(hooks.order_confirmed, SaleorOrderFactory.create())
    notification = Notification.objects.get()
    assert notification.next_attempt_at - timezone.now() > backoff(1) - timedelta(
        seconds=5
    )
    smtp_server.start()
    # not due yet: delivering now does nothing
    assert (
        deliver_notification(notification.pk, settings=load_settings()).status
        == "not_due"
    )
    assert smtp_server.messages == []


def test_backoff_grows_exponentially_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert backoff(50) == timedelta(hours=6)


def test_rejected_recipient_fails_permanently_with_reason(
    db, mail_config, smtp_server, on_commit
):
    smtp_server.rejected_recipients.add("gone@example.com")
    on_commit(
        hooks.order_confirmed,
        SaleorOrderFactory.create(user=None, user_email="gone@example.com"),
    )
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.FAILED
    assert "550" in notification.reason
    assert smtp_server.messages == []


def test_gives_up_after_max_attempts(db, mail_config, smtp_server, on_commit, settings):
    settings.SUPPORT_MAX_DELIVERY_ATTEMPTS = 2
    smtp_server.stop()
    on_commit(hooks.order_confirmed, SaleorOrderFactory.create())
    with time_machine.travel(timezone.now() + timedelta(hours=1), tick=False):
        on_commit(sweep_outbox_task)
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.FAILED
    assert notification.reason.startswith("gave up after 2 attempts")


def test_sweeper_processes_events_whose_task_was_lost(
    db, mail_config, smtp_server, django_capture_on_commit_callbacks
):
    # given an event recorded while the broker was unreachable (its on-commit enqueue was lost)
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        hooks.order_confirmed(SaleorOrderFactory.create())
    (record,) = after_commit  # the hook's INSERT waits for Saleor's commit
    with django_capture_on_commit_callbacks(execute=False):
        record()  # recorded; the enqueue it schedules is dropped
    assert OrderEvent.objects.get().processed_at is None
    # when the sweeper runs later
    with (
        time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        sweep_outbox_task()
    # then the event was processed and its email delivered once
    assert OrderEvent.objects.get().processed_at is not None
    assert len(smtp_server.wait_for(1)) == 1


def test_sweeper_leaves_fresh_and_not_due_rows_alone(
    db, mail_config, smtp_server, on_commit
):
    smtp_server.stop()
    on_commit(hooks.order_confirmed, SaleorOrderFactory.create())
    result = sweep_outbox()
    assert result.notifications == []
    assert result.events == []


def test_delivery_of_a_sent_notification_is_a_no_op(
    db, mail_config, smtp_server, on_commit
):
    on_commit(hooks.order_confirmed, SaleorOrderFactory.create())
    notification = Notification.objects.get()
    assert (
        deliver_notification(notification.pk, settings=load_settings()).status
        == NotificationStatus.SENT
    )
    assert len(smtp_server.wait_for(1)) == 1
