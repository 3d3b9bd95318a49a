"""An order's life, fed through the plugin's hooks, produces exactly the expected emails.

Hooks get Saleor-shaped objects (tests/factories.py); Celery runs eagerly and the
plugin sends through a real SMTP server.
"""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.orders import services
from saleor_support_plugin.orders.models import (
    FulfillmentSnapshot,
    OrderEvent,
    OrderSnapshot,
)
from saleor_support_plugin.saleor import hooks

from .factories import (
    SaleorOrderFactory,
    SaleorOrderLineFactory,
    approve,
    fulfill,
    refund,
    return_items,
    set_status,
    update_tracking,
)
from .fixtures.support import carrier_event


def ship(order, on_commit, tracking="1Z999"):
    """Ship like Saleor's orderFulfill: tracking hook first, then fulfillment_created, order_fulfilled."""
    fulfillment = fulfill(order, tracking_number=tracking)
    on_commit(hooks.tracking_number_updated, fulfillment)
    on_commit(hooks.fulfillment_created, fulfillment)
    on_commit(hooks.order_fulfilled, order)
    return fulfillment


def test_order_lifecycle_sends_each_update_once(
    db, mail_config, smtp_server, on_commit, post_carrier_event
):
    # given an order of a customer who writes in English
    order = SaleorOrderFactory.create(
        user__email="alice@example.com",
        user__first_name="Alice",
        lines=[SaleorOrderLineFactory.create(product_name="Trail Runner", quantity=2)],
    )
    # when it goes through its life
    on_commit(hooks.order_created, order)
    on_commit(hooks.order_confirmed, order)
    on_commit(hooks.order_fully_paid, order)
    ship(order, on_commit, tracking="1Z999")
    assert (
        post_carrier_event(
            carrier_event(event_id="e1", status="in_transit")
        ).status_code
        == 202
    )
    assert (
        post_carrier_event(
            carrier_event(event_id="e2", status="out_for_delivery")
        ).status_code
        == 202
    )
    assert (
        post_carrier_event(carrier_event(event_id="e3", status="delivered")).status_code
        == 202
    )
    return_items(order)
    on_commit(hooks.order_updated, order)
    refund(order, Decimal("30.00"))
    on_commit(hooks.order_refunded, order)
    on_commit(hooks.order_refunded, order)
    # then
    mails = smtp_server.wait_for(6)
    assert [mail.subject for mail in mails] == [
        f"Your order #{order.number} is confirmed",
        f"Your order #{order.number} is on its way",
        f"Your order #{order.number} arrives today",
        f"Your order #{order.number} was delivered",
        f"We received your return for order #{order.number}",
        f"Your refund for order #{order.number}",
    ]
    assert {mail.envelope_to for mail in mails} == {("alice@example.com",)}
    assert {mail.message["From"] for mail in mails} == {
        "Acme Support <support@acme.example>"
    }
    shipped = mails[1]
    assert "Hi Alice," in shipped.body("plain")
    assert "Tracking number: 1Z999" in shipped.body("plain")
    assert "2 x Trail Runner" in shipped.body("plain")
    assert 'href="https://track.example/1Z999"' in shipped.body("html")
    assert "We have refunded 30.00 USD" in mails[5].body("plain")
    # shipping updates carry an unsubscribe link; the confirmation does not
    assert "unsubscribe" in shipped.message["List-Unsubscribe"]
    assert mails[0].message["List-Unsubscribe"] is None
    assert len(smtp_server.messages) == 6
    assert Notification.objects.filter(status=NotificationStatus.SENT).count() == 6
    # and every event says what it led to, including those that led to no email
    outcomes = dict(OrderEvent.objects.values_list("idempotency_key", "outcome"))
    assert "" not in outcomes.values()
    assert outcomes["carrier:e1"] == "recorded: no customer update for this news"
    assert outcomes["carrier:e3"] == "delivered queued"


def test_order_in_german_gets_german_emails_and_unknown_language_gets_english(
    db, mail_config, smtp_server, on_commit
):
    german = SaleorOrderFactory.create(language_code="de-DE", user__first_name="Jonas")
    klingon = SaleorOrderFactory.create(language_code="tlh")
    on_commit(hooks.order_confirmed, german)
    on_commit(hooks.order_confirmed, klingon)
    mails = smtp_server.wait_for(2)
    by_number = {mail.subject.split("#")[1].split()[0]: mail for mail in mails}
    assert (
        by_number[str(german.number)].subject
        == f"Ihre Bestellung #{german.number} ist bestätigt"
    )
    assert "Hallo Jonas," in by_number[str(german.number)].body("plain")
    assert (
        by_number[str(klingon.number)].subject
        == f"Your order #{klingon.number} is confirmed"
    )


def test_every_hook_called_twice_sends_nothing_twice(
    db, mail_config, smtp_server, on_commit, post_carrier_event
):
    # given
    order = SaleorOrderFactory.create()
    # when every hook fires twice
    for hook in (hooks.order_created, hooks.order_confirmed):
        on_commit(hook, order)
        on_commit(hook, order)
    set_status(order, "canceled")
    on_commit(hooks.order_cancelled, order)
    on_commit(hooks.order_cancelled, order)
    shipped_order = SaleorOrderFactory.create()
    fulfillment = fulfill(shipped_order, tracking_number="TRK-2")
    for _ in range(2):
        on_commit(hooks.tracking_number_updated, fulfillment)
        on_commit(hooks.fulfillment_created, fulfillment)
        on_commit(hooks.order_fulfilled, shipped_order)
        on_commit(hooks.order_updated, shipped_order)
    event = carrier_event(event_id="dup-1", tracking_number="TRK-2", status="delivered")
    first, replay = post_carrier_event(event), post_carrier_event(event)
    # then
    assert (first.status_code, replay.status_code) == (202, 409)
    assert replay.json()["error"]["code"] == "duplicate_event"
    mails = smtp_server.wait_for(4)
    subjects = sorted(mail.subject for mail in mails)
    assert subjects == sorted(
        [
            f"Your order #{order.number} is confirmed",
            f"Your order #{order.number} was cancelled",
            f"Your order #{shipped_order.number} is on its way",
            f"Your order #{shipped_order.number} was delivered",
        ]
    )
    assert len(smtp_server.messages) == 4
    assert OrderEvent.objects.filter(order_id=str(order.pk)).count() == 3


def test_new_tracking_number_sends_tracking_updated(
    db, mail_config, smtp_server, on_commit
):
    order = SaleorOrderFactory.create()
    fulfillment = ship(order, on_commit, tracking="OLD-1")
    update_tracking(fulfillment, "NEW-2")
    on_commit(hooks.tracking_number_updated, fulfillment)
    on_commit(hooks.tracking_number_updated, fulfillment)
    mails = smtp_server.wait_for(2)
    assert [mail.subject for mail in mails] == [
        f"Your order #{order.number} is on its way",
        f"New tracking details for order #{order.number}",
    ]
    assert "NEW-2" in mails[1].body("plain")
    assert (
        FulfillmentSnapshot.objects.get(
            fulfillment_id=str(fulfillment.pk)
        ).tracking_number
        == "NEW-2"
    )


def test_fulfillment_waiting_for_approval_is_announced_when_approved(
    db, mail_config, smtp_server, on_commit
):
    order = SaleorOrderFactory.create()
    fulfillment = fulfill(
        order, tracking_number="WAIT-1", status="waiting_for_approval"
    )
    on_commit(hooks.tracking_number_updated, fulfillment)
    on_commit(hooks.fulfillment_created, fulfillment)
    assert smtp_server.messages == []
    approve(fulfillment)
    on_commit(hooks.fulfillment_created, fulfillment)  # Saleor's fulfillment_approved
    assert [mail.subject for mail in smtp_server.wait_for(1)] == [
        f"Your order #{order.number} is on its way"
    ]


@pytest.mark.parametrize("status", ["returned", "refunded_and_returned", "replaced"])
def test_each_return_is_reported_once(db, mail_config, smtp_server, on_commit, status):
    order = SaleorOrderFactory.create()
    ship(order, on_commit)
    return_items(order, status=status)
    on_commit(hooks.order_updated, order)
    set_status(order, "returned")  # another order_updated, the order changed again
    on_commit(hooks.order_updated, order)
    mails = smtp_server.wait_for(2)
    assert [mail.subject for mail in mails] == [
        f"Your order #{order.number} is on its way",
        f"We received your return for order #{order.number}",
    ]
    assert len(smtp_server.messages) == 2


def test_two_refunds_send_two_refund_emails_with_their_amounts(
    db, mail_config, smtp_server, on_commit
):
    order = SaleorOrderFactory.create()
    refund(order, Decimal("10.00"))
    on_commit(hooks.order_refunded, order)
    refund(order, Decimal("5.50"))
    on_commit(hooks.order_refunded, order)
    on_commit(hooks.order_refunded, order)
    mails = smtp_server.wait_for(2)
    assert [
        "We have refunded 10.00 USD" in mails[0].body("plain"),
        "We have refunded 5.50 USD" in mails[1].body(),
    ] == [
        True,
        True,
    ]
    assert len(smtp_server.messages) == 2
    assert OrderSnapshot.objects.get(order_id=str(order.pk)).total_refunded == Decimal(
        "15.50"
    )


def test_snapshot_keeps_what_support_needs(db, mail_config, on_commit):
    order = SaleorOrderFactory.create(
        language_code="de",
        lines=[SaleorOrderLineFactory.create(product_sku="SKU-1", quantity=3)],
    )
    fulfillment = ship(order, on_commit, tracking="ZX-1")
    snapshot = OrderSnapshot.objects.get(order_id=str(order.pk))
    assert snapshot.number == str(order.number)
    assert snapshot.language_code == "de"
    assert snapshot.status == "fulfilled"
    (line,) = snapshot.lines.all()
    assert (
        line.sku,
        line.quantity,
        line.quantity_fulfilled,
        line.unit_price_gross,
    ) == (
        "SKU-1",
        3,
        3,
        Decimal("59.900"),
    )
    (shipment,) = snapshot.fulfillments.all()
    assert (shipment.fulfillment_id, shipment.tracking_number, shipment.status) == (
        str(fulfillment.pk),
        "ZX-1",
        "fulfilled",
    )


def test_switched_off_update_is_suppressed_with_reason(
    db, mail_config, smtp_server, on_commit
):
    mail_config(notify_confirmed=False)
    order = SaleorOrderFactory.create()
    on_commit(hooks.order_confirmed, order)
    set_status(order, "canceled")
    on_commit(hooks.order_cancelled, order)
    assert [mail.subject for mail in smtp_server.wait_for(1)] == [
        f"Your order #{order.number} was cancelled"
    ]
    suppressed = Notification.objects.get(kind="confirmed")
    assert suppressed.status == NotificationStatus.SUPPRESSED
    assert suppressed.reason == "'Order confirmed' updates are switched off"


def test_proactive_updates_off_sends_nothing(db, mail_config, smtp_server, on_commit):
    mail_config(proactive_updates_enabled=False)
    on_commit(hooks.order_confirmed, SaleorOrderFactory.create())
    assert smtp_server.messages == []
    assert (
        Notification.objects.get().reason == "proactive order updates are switched off"
    )


def test_merchant_templates_replace_the_built_in_ones(
    db, mail_config, smtp_server, on_commit
):
    mail_config(
        shipped_subject="{{store.name}}: order {{order.number}} shipped!",
        shipped_template="<h1>On its way</h1><p>Track: {{fulfillment.tracking_number}} &amp; more</p>",
    )
    order = SaleorOrderFactory.create()
    ship(order, on_commit, tracking="CUSTOM-9")
    (mail,) = smtp_server.wait_for(1)
    assert mail.subject == f"Acme Support: order {order.number} shipped!"
    assert "<h1>On its way</h1>" in mail.body("html")
    assert "Track: CUSTOM-9 & more" in mail.body("plain")


def test_hook_failure_is_logged_and_never_raises(db, caplog, on_commit):
    class Broken:
        @property
        def pk(self):
            raise RuntimeError("not an order")

    on_commit(hooks.order_confirmed, Broken())
    assert "Support plugin hook order_confirmed failed" in caplog.text
    assert OrderEvent.objects.count() == 0


def test_guest_order_is_emailed_at_its_order_address(
    db, mail_config, smtp_server, on_commit
):
    order = SaleorOrderFactory.create(user=None, user_email="Guest@Example.com")
    on_commit(hooks.order_confirmed, order)
    (mail,) = smtp_server.wait_for(1)
    assert mail.envelope_to == ("guest@example.com",)


def test_failed_sql_in_a_hook_leaves_the_merchants_transaction_usable(
    db, caplog, monkeypatch, django_capture_on_commit_callbacks
):
    # given a hook whose own SQL fails
    def broken_record_event(**kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(services, "record_event", broken_record_event)
    order = SaleorOrderFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            with CaptureQueriesContext(connection) as in_transaction:
                hooks.order_confirmed(order)
            # then inside Saleor's transaction the hook ran no SQL at all
            assert in_transaction.captured_queries == []
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
                assert cursor.fetchone() == (1,)
    # and its failure after the commit was logged, not raised
    assert f"Support plugin could not record confirmed of order {order.pk}" in (
        caplog.text
    )


def test_tracking_number_changed_back_is_news_again(
    db, mail_config, smtp_server, on_commit
):
    # A → B → A: each change is a real-world fact the customer must hear about
    order = SaleorOrderFactory.create()
    fulfillment = ship(order, on_commit, tracking="A-1")
    for number in ("B-2", "A-1", "A-1"):
        update_tracking(fulfillment, number)
        on_commit(hooks.tracking_number_updated, fulfillment)
    mails = smtp_server.wait_for(3)
    assert [mail.subject.split(" for ")[0] for mail in mails] == [
        f"Your order #{order.number} is on its way",
        "New tracking details",
        "New tracking details",
    ]
    assert "B-2" in mails[1].body("plain")
    assert "A-1" in mails[2].body("plain")
    assert len(smtp_server.messages) == 3
    assert (
        FulfillmentSnapshot.objects.get(
            fulfillment_id=str(fulfillment.pk)
        ).tracking_number
        == "A-1"
    )


def test_repeated_tracking_hooks_announce_each_number_once(
    db, mail_config, smtp_server, on_commit
):
    order = SaleorOrderFactory.create()
    fulfillment = ship(order, on_commit, tracking="A-1")
    on_commit(hooks.tracking_number_updated, fulfillment)  # repeat, after processing
    update_tracking(fulfillment, "B-2")
    on_commit(hooks.tracking_number_updated, fulfillment)
    on_commit(hooks.tracking_number_updated, fulfillment)  # repeat
    mails = smtp_server.wait_for(2)
    assert [mail.subject.split(" for ")[0] for mail in mails] == [
        f"Your order #{order.number} is on its way",
        "New tracking details",
    ]
    assert len(smtp_server.messages) == 2
    # every hook call is in the log, processed, with what it led to
    events = OrderEvent.objects.filter(type="tracking_updated").order_by("created_at")
    assert [event.outcome for event in events] == [
        "shipped queued",
        "nothing new: the customer was already told the order's current state",
        "tracking_updated queued",
        "nothing new: the customer was already told the order's current state",
    ]


def test_each_hook_runs_one_insert_and_reads_nothing(
    db, support_config, request, django_capture_on_commit_callbacks
):
    # given an order and a shipment loaded fresh, as Saleor hands them to hooks
    from celery import current_app

    from sandbox.order.models import Fulfillment, Order

    created = SaleorOrderFactory.create()
    fulfill(created, tracking_number="Q-1")
    order = Order.objects.get(pk=created.pk)
    fulfillment = Fulfillment.objects.get(order=created)
    # Publishing goes to the background thread (its own connection), as in production.
    eager = current_app.conf.task_always_eager
    current_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False)
    request.addfinalizer(
        lambda: current_app.conf.update(CELERY_TASK_ALWAYS_EAGER=eager)
    )
    calls = [
        (hooks.order_created, order),
        (hooks.order_confirmed, order),
        (hooks.order_fully_paid, order),
        (hooks.order_fulfilled, order),
        (hooks.order_cancelled, order),
        (hooks.order_refunded, order),
        (hooks.order_updated, order),
        (hooks.fulfillment_created, fulfillment),
        (hooks.fulfillment_approved, fulfillment),
        (hooks.tracking_number_updated, fulfillment),
    ]
    for hook, subject in calls:
        # when a hook runs inside Saleor's transaction
        with django_capture_on_commit_callbacks(execute=False) as after_commit:
            with CaptureQueriesContext(connection) as in_request:
                hook(subject)
        # then it runs no SQL there, and one INSERT after the commit
        assert in_request.captured_queries == [], hook.__name__
        with django_capture_on_commit_callbacks(execute=False):
            with CaptureQueriesContext(connection) as after:
                for callback in after_commit:
                    callback()
        statements = [query["sql"] for query in after.captured_queries]
        assert len(statements) == 1, (hook.__name__, statements)
        assert statements[0].startswith(
            "INSERT INTO saleor_support_plugin_orderevent"
        ), hook.__name__
    # fulfillment_approved repeats fulfillment_created's fact: recorded once
    assert OrderEvent.objects.filter(type="fulfillment_created").count() == 1
