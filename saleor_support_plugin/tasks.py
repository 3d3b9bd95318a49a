"""Celery tasks; Celery discovers this module in Saleor and in the sandbox alike.

Tasks only load settings and call services. Retries of deliveries are driven
by the outbox rows themselves (next_attempt_at), so a lost message, a dead
worker or a down broker delays a notification but never drops or doubles it.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.utils import timezone

from .metrics.weekly import send_weekly_report
from .notifications.services import (
    deliver_notification,
    enqueue_deliveries,
    sweep_outbox,
)
from .orders.delays import detect_delays
from .orders.services import enqueue_processing, process_event
from .ports import load_settings, writer
from .price_protection.services import (
    execute_claim_refund,
    price_protection_tick,
    process_price_changes,
    settle_in_flight,
    sweep_price_protection,
)
from .surveys.scheduling import plan_surveys, send_due_surveys
from .surveys.services import close_idle_answers
from .tickets.sla import check_sla_breaches

logger = logging.getLogger(__name__)

SWEEP_INTERVAL_SECONDS = 30.0
DELAY_CHECK_INTERVAL_SECONDS = 15 * 60.0
SLA_CHECK_INTERVAL_SECONDS = 60.0
PRICE_SWEEP_INTERVAL_SECONDS = 60 * 60.0
SURVEY_INTERVAL_SECONDS = 5 * 60.0
WEEKLY_REPORT_INTERVAL_SECONDS = 15 * 60.0


@shared_task(acks_late=True, ignore_result=True)
def process_order_event_task(idempotency_key: str) -> int:
    with writer():
        return len(process_event(idempotency_key, settings=load_settings()))


@shared_task(bind=True, acks_late=True, ignore_result=True)
def deliver_notification_task(self, notification_id: str) -> str:
    with writer():
        result = deliver_notification(notification_id, settings=load_settings())
    if (
        result.status == "retry"
        and result.retry_at is not None
        and not self.request.is_eager
    ):
        # Best effort: if this message is lost, the sweeper re-dispatches the row.
        deliver_notification_task.apply_async((notification_id,), eta=result.retry_at)
    return result.status


@shared_task(ignore_result=True)
def sweep_outbox_task() -> None:
    with writer():
        result = sweep_outbox()
    for key in result.events:
        enqueue_processing(key)
    enqueue_deliveries(result.notifications)
    if result.events or result.notifications:
        logger.info(
            "Outbox sweep re-dispatched %d events, %d notifications",
            len(result.events),
            len(result.notifications),
        )


@shared_task(ignore_result=True)
def detect_delays_task() -> None:
    with writer():
        settings = load_settings()
        if settings.active and settings.proactive_updates_enabled:
            detect_delays(now=timezone.now(), settings=settings)


@shared_task(ignore_result=True)
def check_sla_breaches_task() -> None:
    with writer():
        settings = load_settings()
        if settings.active and settings.tickets_enabled:
            check_sla_breaches(now=timezone.now(), settings=settings)


@shared_task(acks_late=True, ignore_result=True)
def process_price_changes_task(variant_ids: list[str]) -> int:
    with writer():
        settings = load_settings()
        return len(process_price_changes(settings=settings, variant_ids=variant_ids))


@shared_task(acks_late=True, ignore_result=True)
def execute_claim_refund_task(claim_id: str) -> str:
    with writer():
        return execute_claim_refund(claim_id, settings=load_settings())


@shared_task(acks_late=True, ignore_result=True)
def settle_price_refunds_task(order_id: str) -> int:
    """Settle the order's price-claim refunds in flight: the shop reported a refund."""
    with writer():
        return settle_in_flight(settings=load_settings(), order_id=order_id)


@shared_task(ignore_result=True)
def price_protection_tick_task() -> None:
    with writer():
        price_protection_tick(settings=load_settings())


@shared_task(ignore_result=True)
def price_protection_sweep_task() -> None:
    with writer():
        report = sweep_price_protection(settings=load_settings())
    if report.claims_opened or report.refunds_settled or report.refunds_enqueued:
        logger.info(
            "Price-protection sweep: %d prices re-read, %d claims opened, "
            "%d refunds settled, %d re-enqueued",
            report.pairs_checked,
            report.claims_opened,
            report.refunds_settled,
            report.refunds_enqueued,
        )


@shared_task(ignore_result=True)
def surveys_task() -> None:
    """Plan the surveys owed, send the due ones, close the loop of idle answers."""
    with writer():
        settings = load_settings()
        if not settings.active:
            return
        if settings.surveys_enabled:
            plan_surveys(settings=settings)
            send_due_surveys(settings=settings)
        # Surveys switched off send no more, but answers to those already sent
        # still close their loop: a detractor is never left without a follow-up.
        close_idle_answers(settings=settings)


@shared_task(ignore_result=True)
def weekly_report_task() -> None:
    """Write the weekly report when it is due (once per period, whatever the runs)."""
    with writer():
        send_weekly_report(now=timezone.now(), settings=load_settings())


BEAT_SCHEDULE = {
    "saleor-support-plugin-check-sla": {
        "task": "saleor_support_plugin.tasks.check_sla_breaches_task",
        "schedule": SLA_CHECK_INTERVAL_SECONDS,
    },
    "saleor-support-plugin-sweep-outbox": {
        "task": "saleor_support_plugin.tasks.sweep_outbox_task",
        "schedule": SWEEP_INTERVAL_SECONDS,
    },
    "saleor-support-plugin-price-protection": {
        "task": "saleor_support_plugin.tasks.price_protection_sweep_task",
        "schedule": PRICE_SWEEP_INTERVAL_SECONDS,
    },
    "saleor-support-plugin-price-protection-tick": {
        "task": "saleor_support_plugin.tasks.price_protection_tick_task",
        "schedule": SWEEP_INTERVAL_SECONDS * 2,
    },
    "saleor-support-plugin-surveys": {
        "task": "saleor_support_plugin.tasks.surveys_task",
        "schedule": SURVEY_INTERVAL_SECONDS,
    },
    "saleor-support-plugin-weekly-report": {
        "task": "saleor_support_plugin.tasks.weekly_report_task",
        "schedule": WEEKLY_REPORT_INTERVAL_SECONDS,
    },
    "saleor-support-plugin-detect-delays": {
        "task": "saleor_support_plugin.tasks.detect_delays_task",
        "schedule": DELAY_CHECK_INTERVAL_SECONDS,
    },
}
