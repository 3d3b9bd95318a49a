"""Delay detection with frozen time across business-day boundaries."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from saleor_support_plugin.conf import parse_settings
from saleor_support_plugin.core.calendar import BusinessCalendar
from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.orders.delays import detect_delays
from saleor_support_plugin.saleor import hooks

from .factories import SaleorOrderFactory, fulfill
from .fixtures.support import carrier_event

BERLIN = ZoneInfo("Europe/Berlin")
# Friday 2026-11-20, 16:00 Berlin time
FRIDAY_AFTERNOON = datetime(2026, 11, 20, 16, 0, tzinfo=BERLIN)


def calendar(**config) -> BusinessCalendar:
    return BusinessCalendar.from_settings(
        parse_settings({"business_timezone": "Europe/Berlin", **config}, active=True)
    )


@pytest.mark.parametrize(
    ("placed", "days", "ship_by"),
    [
        # Friday order, 2 business days: Monday is day 1, Tuesday day 2 → end of Tuesday
        (FRIDAY_AFTERNOON, 2, datetime(2026, 11, 25, 0, 0, tzinfo=BERLIN)),
        # Saturday order: day 0 is Monday → end of Wednesday
        (
            datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN),
            2,
            datetime(2026, 11, 26, 0, 0, tzinfo=BERLIN),
        ),
        # same-day target
        (FRIDAY_AFTERNOON, 0, datetime(2026, 11, 21, 0, 0, tzinfo=BERLIN)),
        # 23:30 UTC on Sunday is already Monday in Berlin
        (
            datetime(2026, 11, 22, 23, 30, tzinfo=UTC),
            1,
            datetime(2026, 11, 25, 0, 0, tzinfo=BERLIN),
        ),
    ],
)
def test_ship_by_counts_business_days_in_the_merchants_time_zone(placed, days, ship_by):
    assert calendar().ship_by(placed, days) == ship_by


def test_holidays_are_not_business_days():
    cal = calendar(holidays="2026-11-23, 2026-11-24")
    assert cal.ship_by(FRIDAY_AFTERNOON, 2) == datetime(
        2026, 11, 27, 0, 0, tzinfo=BERLIN
    )
    assert not cal.is_business_day(date(2026, 11, 23))


def test_custom_working_days():
    cal = calendar(business_days="mon,tue,wed,thu,fri,sat")
    assert cal.ship_by(FRIDAY_AFTERNOON, 1) == datetime(
        2026, 11, 22, 0, 0, tzinfo=BERLIN
    )


@pytest.fixture
def delay_config(mail_config):
    mail_config(
        business_timezone="Europe/Berlin",
        delay_threshold_days="2",
        tracking_silence_days="3",
    )
    from saleor_support_plugin.ports import load_settings

    return load_settings


def test_unshipped_order_is_delayed_once_after_the_ship_by_day(
    db, delay_config, smtp_server, on_commit
):
    # given an order placed on Friday afternoon
    with time_machine.travel(FRIDAY_AFTERNOON, tick=False):
        order = SaleorOrderFactory.create(created_at=FRIDAY_AFTERNOON)
        on_commit(hooks.order_created, order)
    # when the checker runs on Tuesday evening (still within target) and Wednesday morning
    for moment, expected in [
        (datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN), 0),  # Monday
        (datetime(2026, 11, 24, 23, 59, tzinfo=BERLIN), 0),  # Tuesday, last minute
        (datetime(2026, 11, 25, 0, 1, tzinfo=BERLIN), 1),  # Wednesday
        (datetime(2026, 11, 26, 9, 0, tzinfo=BERLIN), 1),  # Thursday: no second update
    ]:
        with time_machine.travel(moment, tick=False):
            on_commit(lambda: detect_delays(now=moment, settings=delay_config()))
        assert Notification.objects.filter(kind="delayed").count() == expected, moment
    # then
    (mail,) = smtp_server.wait_for(1)
    assert mail.subject == f"Your order #{order.number} is delayed"
    assert "taking longer than usual to ship" in mail.body("plain")


def test_shipped_or_cancelled_orders_are_not_delayed(db, delay_config, on_commit):
    with time_machine.travel(FRIDAY_AFTERNOON, tick=False):
        shipped = SaleorOrderFactory.create(created_at=FRIDAY_AFTERNOON)
        cancelled = SaleorOrderFactory.create(
            created_at=FRIDAY_AFTERNOON, status="canceled"
        )
        on_commit(hooks.order_created, shipped)
        on_commit(hooks.order_created, cancelled)
        fulfill(shipped)  # no tracking number: nothing for the silence check
        on_commit(hooks.fulfillment_created, shipped.fulfillments.first())
    later = FRIDAY_AFTERNOON + timedelta(days=10)
    with time_machine.travel(later, tick=False):
        on_commit(lambda: detect_delays(now=later, settings=delay_config()))
    assert not Notification.objects.filter(kind="delayed").exists()


def test_silent_tracking_is_delayed_once_with_the_expected_date(
    db, delay_config, smtp_server, on_commit, post_carrier_event
):
    # given a shipment whose carrier last reported on Monday with an estimated date
    monday = datetime(2026, 11, 23, 10, 0, tzinfo=BERLIN)
    with time_machine.travel(monday, tick=False):
        order = SaleorOrderFactory.create(created_at=monday)
        fulfillment = fulfill(order, tracking_number="SILENT-1")
        fulfillment.created_at = monday
        on_commit(hooks.fulfillment_created, fulfillment)
        event = carrier_event(
            event_id="s1",
            tracking_number="SILENT-1",
            status="in_transit",
            occurred_at=monday.isoformat(),
            estimated_delivery="2026-11-27",
        )
        assert post_carrier_event(event).status_code == 202
    # when the checker runs 2 days later (not yet silent), then 3 and 4 days later
    for moment, expected in [
        (monday + timedelta(days=2), 0),
        (monday + timedelta(days=3, minutes=1), 1),
        (monday + timedelta(days=4), 1),
    ]:
        with time_machine.travel(moment, tick=False):
            on_commit(lambda: detect_delays(now=moment, settings=delay_config()))
        assert Notification.objects.filter(kind="delayed").count() == expected
    # then one delayed update with the carrier's estimate
    mails = smtp_server.wait_for(2)
    assert [mail.subject for mail in mails] == [
        f"Your order #{order.number} is on its way",
        f"Your order #{order.number} is delayed",
    ]
    assert "Expected delivery: 2026-11-27" in mails[1].body("plain")
    assert "the carrier has not reported any progress" in mails[1].body("plain")


def test_carrier_exception_counts_as_the_shipments_one_delay_update(
    db, delay_config, smtp_server, on_commit, post_carrier_event
):
    order = SaleorOrderFactory.create()
    fulfillment = fulfill(order, tracking_number="EXC-1")
    on_commit(hooks.fulfillment_created, fulfillment)
    event = carrier_event(
        event_id="x1",
        tracking_number="EXC-1",
        status="exception",
        description="Address not found",
    )
    assert post_carrier_event(event).status_code == 202
    # a second problem and later silence add nothing
    assert (
        post_carrier_event(
            {**event, "event_id": "x2", "status": "failed_attempt"}
        ).status_code
        == 202
    )
    later = datetime.now(UTC) + timedelta(days=30)
    on_commit(lambda: detect_delays(now=later, settings=delay_config()))
    mails = smtp_server.wait_for(2)
    assert [mail.subject for mail in mails] == [
        f"Your order #{order.number} is on its way",
        f"A problem with the delivery of order #{order.number}",
    ]
    assert "Address not found" in mails[1].body("plain")
    assert len(smtp_server.messages) == 2
