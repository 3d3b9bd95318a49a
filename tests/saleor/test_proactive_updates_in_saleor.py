"""Proactive order updates inside a real Saleor 3.24, driven by its own mutations.

Staff run Saleor's GraphQL mutations; Saleor calls the plugin's hooks, the
plugin's Celery tasks run eagerly and send through Saleor's email backend
(locmem in Saleor's test settings), so `mailoutbox` holds what customers get.
"""

import threading
import uuid
from contextlib import ExitStack, contextmanager
from decimal import Decimal

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

import graphene  # noqa: E402
from celery import current_app  # noqa: E402
from django.db import connections  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.order import FulfillmentStatus, OrderStatus  # noqa: E402
from saleor.order.models import Fulfillment  # noqa: E402

from saleor_support_plugin.core.background import in_background  # noqa: E402
from saleor_support_plugin.notifications.models import (  # noqa: E402
    Notification,
    NotificationStatus,
)
from saleor_support_plugin.orders import services  # noqa: E402
from saleor_support_plugin.orders.models import OrderEvent  # noqa: E402

from .fixtures import SUPPORT_SENDER_ADDRESS, SUPPORT_SENDER_NAME  # noqa: E402

SENDER = f"{SUPPORT_SENDER_NAME} <{SUPPORT_SENDER_ADDRESS}>"
NOTHING_NEW = "nothing new: the customer was already told the order's current state"

MUTATION_ORDER_CONFIRM = """
mutation orderConfirm($id: ID!) {
  orderConfirm(id: $id) {
    order { status }
    errors { field code message }
  }
}
"""

MUTATION_ORDER_FULFILL = """
mutation fulfillOrder($order: ID, $input: OrderFulfillInput!) {
  orderFulfill(order: $order, input: $input) {
    fulfillments { id status trackingNumber }
    order { status }
    errors { field code message }
  }
}
"""

MUTATION_FULFILLMENT_UPDATE_TRACKING = """
mutation updateTracking($id: ID!, $tracking: String) {
  orderFulfillmentUpdateTracking(
    id: $id, input: { trackingNumber: $tracking, notifyCustomer: false }
  ) {
    fulfillment { trackingNumber }
    errors { field code message }
  }
}
"""

MUTATION_FULFILLMENT_RETURN_PRODUCTS = """
mutation returnProducts($order: ID!, $input: OrderReturnProductsInput!) {
  orderFulfillmentReturnProducts(order: $order, input: $input) {
    returnFulfillment { id status }
    order { status }
    errors { field code message }
  }
}
"""

MUTATION_ORDER_CANCEL = """
mutation cancelOrder($id: ID!) {
  orderCancel(id: $id) {
    order { status }
    errors { field code message }
  }
}
"""


# Saleor's Celery tasks (the plugin's too: they are Saleor's app's tasks) check
# queries to the writer database: production logs them, Saleor's test settings
# raise. The plugin's tasks declare their writer use through `allow_writer`.
TEST_WRITER_CHECK = "saleor.core.db.connection.restrict_writer"


@pytest.fixture
def post_as_staff(staff_api_client, permission_group_manage_orders):
    """Post a mutation as order staff.

    Saleor's `post_graphql` runs the request's on-commit work (the plugin's hooks,
    then its eager tasks) before it returns, as a committed request would.
    """
    permission_group_manage_orders.user_set.add(staff_api_client.user)

    def post(query: str, variables: dict) -> dict:
        response = staff_api_client.post_graphql(query, variables)
        return get_graphql_content(response)["data"]

    return post


@pytest.fixture
def plugin_mails(mailoutbox):
    """Return the emails the plugin sent (Saleor's own come from other senders)."""

    def mails() -> list:
        return [mail for mail in mailoutbox if mail.from_email == SENDER]

    return mails


def fulfill_variables(order, warehouse, tracking: str) -> dict:
    return {
        "order": graphene.Node.to_global_id("Order", order.pk),
        "input": {
            "notifyCustomer": False,
            "trackingNumber": tracking,
            "lines": [
                {
                    "orderLineId": graphene.Node.to_global_id("OrderLine", line.pk),
                    "stocks": [
                        {
                            "quantity": line.quantity,
                            "warehouse": graphene.Node.to_global_id(
                                "Warehouse", warehouse.pk
                            ),
                        }
                    ],
                }
                for line in order.lines.all()
            ],
        },
    }


def return_variables(order, fulfillment_id: str) -> dict:
    fulfillment = Fulfillment.objects.get(
        pk=graphene.Node.from_global_id(fulfillment_id)[1]
    )
    return {
        "order": graphene.Node.to_global_id("Order", order.pk),
        "input": {
            "refund": False,
            "fulfillmentLines": [
                {
                    "fulfillmentLineId": graphene.Node.to_global_id(
                        "FulfillmentLine", line.pk
                    ),
                    "quantity": line.quantity,
                    "replace": False,
                }
                for line in fulfillment.lines.all()
            ],
        },
    }


def sent_kinds(order) -> list[str]:
    return list(
        Notification.objects.filter(
            order_id=str(order.pk), status=NotificationStatus.SENT
        )
        .order_by("created_at")
        .values_list("kind", flat=True)
    )


def test_order_lifecycle_through_saleor_mutations_sends_each_update_once(
    support_plugin_with_sender,
    post_as_staff,
    plugin_mails,
    unconfirmed_order_with_lines,
    warehouse,
):
    # given
    order = unconfirmed_order_with_lines
    order_id = graphene.Node.to_global_id("Order", order.pk)
    customer = order.get_customer_email()
    number = order.number

    # when the order is confirmed
    data = post_as_staff(MUTATION_ORDER_CONFIRM, {"id": order_id})

    # then
    assert data["orderConfirm"]["errors"] == []
    assert data["orderConfirm"]["order"]["status"] == OrderStatus.UNFULFILLED.upper()
    mails = plugin_mails()
    assert [mail.subject for mail in mails] == [f"Your order #{number} is confirmed"]
    assert mails[0].to == [customer]

    # when it ships with a tracking number (Saleor calls tracking_number_updated
    # and fulfillment_created for the same shipment)
    data = post_as_staff(
        MUTATION_ORDER_FULFILL, fulfill_variables(order, warehouse, "1Z-FIRST")
    )

    # then
    assert data["orderFulfill"]["errors"] == []
    (fulfillment,) = data["orderFulfill"]["fulfillments"]
    assert fulfillment["status"] == FulfillmentStatus.FULFILLED.upper()
    mails = plugin_mails()
    assert [mail.subject for mail in mails[1:]] == [
        f"Your order #{number} is on its way"
    ]
    assert "1Z-FIRST" in mails[1].body
    assert mails[1].to == [customer]

    # when the carrier's tracking number changes
    data = post_as_staff(
        MUTATION_FULFILLMENT_UPDATE_TRACKING,
        {"id": fulfillment["id"], "tracking": "1Z-SECOND"},
    )

    # then
    assert data["orderFulfillmentUpdateTracking"]["errors"] == []
    mails = plugin_mails()
    assert [mail.subject for mail in mails[2:]] == [
        f"New tracking details for order #{number}"
    ]
    assert "1Z-SECOND" in mails[2].body

    # when the customer sends everything back
    data = post_as_staff(
        MUTATION_FULFILLMENT_RETURN_PRODUCTS,
        return_variables(order, fulfillment["id"]),
    )

    # then
    assert data["orderFulfillmentReturnProducts"]["errors"] == []
    returned = data["orderFulfillmentReturnProducts"]["returnFulfillment"]
    assert returned["status"] == FulfillmentStatus.RETURNED.upper()
    mails = plugin_mails()
    assert [mail.subject for mail in mails[3:]] == [
        f"We received your return for order #{number}"
    ]
    assert {tuple(mail.to) for mail in mails} == {(customer,)}
    assert sent_kinds(order) == [
        "confirmed",
        "shipped",
        "tracking_updated",
        "return_received",
    ]
    assert Notification.objects.filter(order_id=str(order.pk)).count() == 4


def test_order_cancel_sends_one_cancellation(
    support_plugin_with_sender, post_as_staff, plugin_mails, order_with_lines
):
    # given
    order = order_with_lines
    assert order.status == OrderStatus.UNFULFILLED

    # when
    data = post_as_staff(
        MUTATION_ORDER_CANCEL, {"id": graphene.Node.to_global_id("Order", order.pk)}
    )

    # then
    assert data["orderCancel"]["errors"] == []
    assert data["orderCancel"]["order"]["status"] == OrderStatus.CANCELED.upper()
    mails = plugin_mails()
    assert [mail.subject for mail in mails] == [
        f"Your order #{order.number} was cancelled"
    ]
    assert mails[0].to == [order.get_customer_email()]
    assert sent_kinds(order) == ["cancelled"]


def test_repeated_mutations_that_change_nothing_send_nothing_new(
    support_plugin_with_sender,
    post_as_staff,
    plugin_mails,
    order_with_lines,
    warehouse,
):
    # given a shipped order whose tracking number was changed once
    order = order_with_lines
    data = post_as_staff(
        MUTATION_ORDER_FULFILL, fulfill_variables(order, warehouse, "1Z-FIRST")
    )
    (fulfillment,) = data["orderFulfill"]["fulfillments"]
    update = {"id": fulfillment["id"], "tracking": "1Z-SECOND"}
    post_as_staff(MUTATION_FULFILLMENT_UPDATE_TRACKING, update)
    assert len(plugin_mails()) == 2
    earlier_events = list(OrderEvent.objects.values_list("pk", flat=True))

    # when staff save the same tracking numbers again
    first = post_as_staff(MUTATION_FULFILLMENT_UPDATE_TRACKING, update)
    second = post_as_staff(MUTATION_FULFILLMENT_UPDATE_TRACKING, update)

    # then
    for data in (first, second):
        result = data["orderFulfillmentUpdateTracking"]
        assert result["errors"] == []
        assert result["fulfillment"]["trackingNumber"] == "1Z-SECOND"
    assert [mail.subject for mail in plugin_mails()] == [
        f"Your order #{order.number} is on its way",
        f"New tracking details for order #{order.number}",
    ]
    assert sent_kinds(order) == ["shipped", "tracking_updated"]
    assert Notification.objects.filter(order_id=str(order.pk)).count() == 2
    # Each save is still reported (a state change has no name of its own, so
    # every report is kept), and each report says why it sent nothing.
    repeats = OrderEvent.objects.exclude(pk__in=earlier_events)
    assert sorted(repeats.values_list("type", "outcome")) == [
        ("tracking_updated", NOTHING_NEW),
        ("tracking_updated", NOTHING_NEW),
        ("updated", NOTHING_NEW),
        ("updated", NOTHING_NEW),
    ]
    assert not OrderEvent.objects.filter(processed_at__isnull=True).exists()
    assert not OrderEvent.objects.filter(outcome="").exists()


def test_a_failing_hook_does_not_break_the_saleor_mutation(
    support_plugin_with_sender,
    post_as_staff,
    plugin_mails,
    order_with_lines,
    warehouse,
    monkeypatch,
    caplog,
):
    # given the plugin cannot write its event log
    calls = []

    def broken_record_event(**kwargs):
        calls.append((kwargs["type"].value, kwargs["order_id"]))
        raise RuntimeError("boom")

    monkeypatch.setattr(services, "record_event", broken_record_event)
    order = order_with_lines
    order_id = str(order.pk)

    # when staff ship the order; every hook Saleor calls fails (Saleor's test client
    # runs them on commit, before it returns: an exception would surface here)
    data = post_as_staff(
        MUTATION_ORDER_FULFILL, fulfill_variables(order, warehouse, "1Z-FIRST")
    )

    # then the order is shipped, with no error, and the plugin did nothing
    result = data["orderFulfill"]
    assert result["errors"] == []
    assert result["order"]["status"] == OrderStatus.FULFILLED.upper()
    assert order.fulfillments.get().tracking_number == "1Z-FIRST"
    # tracking_number_updated, fulfillment_created, fulfillment_approved,
    # order_fulfilled and order_updated each failed, was logged and swallowed
    assert sorted(calls) == [
        ("fulfilled", order_id),
        ("fulfillment_created", order_id),
        ("fulfillment_created", order_id),
        ("tracking_updated", order_id),
        ("updated", order_id),
    ]
    failures = [
        (record.getMessage(), record.exc_info[1])
        for record in caplog.records
        if record.name == services.__name__ and record.levelname == "ERROR"
    ]
    assert sorted(message for message, _ in failures) == sorted(
        f"Support plugin could not record {type} of order {order_id}."
        for type, _ in calls
    )
    assert all(str(error) == "boom" for _, error in failures)
    assert plugin_mails() == []
    assert OrderEvent.objects.count() == 0
    assert Notification.objects.count() == 0


def test_celery_beat_schedule_inside_saleor_has_the_plugin_tasks():
    # given Saleor's Celery app, configured from its settings (CELERY_*)
    from saleor import celery_app

    # when the plugin's AppConfig.ready has run
    schedule = current_app.conf.beat_schedule

    # then the plugin's entries sit in Saleor's own schedule
    assert current_app.main == celery_app.main == "saleor"
    assert "delete-empty-allocations" in schedule
    assert schedule["saleor-support-plugin-sweep-outbox"] == {
        "task": "saleor_support_plugin.tasks.sweep_outbox_task",
        "schedule": 30.0,
    }
    assert schedule["saleor-support-plugin-detect-delays"] == {
        "task": "saleor_support_plugin.tasks.detect_delays_task",
        "schedule": 900.0,
    }


def test_plugin_tasks_pass_saleors_writer_check(
    settings, support_plugin_with_sender, post_as_staff, plugin_mails, order_with_lines
):
    # given Saleor's own test policy: writer access in a task raises
    settings.CELERY_RESTRICT_WRITER_METHOD = TEST_WRITER_CHECK

    # when
    data = post_as_staff(
        MUTATION_ORDER_CANCEL,
        {"id": graphene.Node.to_global_id("Order", order_with_lines.pk)},
    )

    # then
    assert data["orderCancel"]["errors"] == []
    assert len(plugin_mails()) == 1


def _statements(connections_used) -> list[str]:
    return [
        query["sql"]
        for captured in connections_used
        for query in captured.captured_queries
    ]


@contextmanager
def captured_statements():
    """Capture every statement on every connection (Saleor's replica alias too).

    Saleor's test setup wraps the writer's connection as the replica alias
    (`FakeDbReplicaConnection`, logging to the writer): each real connection is
    captured once.
    """
    real = [
        getattr(connections[alias], "writer_conn", connections[alias])
        for alias in connections
    ]
    distinct = {id(conn): conn for conn in real}
    contexts = [CaptureQueriesContext(conn) for conn in distinct.values()]
    with ExitStack() as stack:
        for context in contexts:
            stack.enter_context(context)
        yield contexts


ORDER_HOOKS = (
    "order_created",
    "order_confirmed",
    "order_fully_paid",
    "order_fulfilled",
    "order_cancelled",
    "order_refunded",
    "order_fully_refunded",
    "order_updated",
)
FULFILLMENT_HOOKS = (
    "fulfillment_created",
    "fulfillment_approved",
    "tracking_number_updated",
)


@pytest.mark.parametrize("hook", ORDER_HOOKS + FULFILLMENT_HOOKS)
def test_each_hook_executes_one_insert_and_no_select(
    hook,
    support_plugin,
    fulfilled_order,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    # given Saleor's plugin instance and a Saleor object fresh from the database
    # (no relation cached: reading one would be a SELECT)
    from saleor.order.models import Fulfillment, Order
    from saleor.plugins.manager import get_plugins_manager

    from saleor_support_plugin import PLUGIN_ID

    plugin = get_plugins_manager(allow_replica=False).get_plugin(PLUGIN_ID)
    if hook in ORDER_HOOKS:
        subject = Order.objects.get(pk=fulfilled_order.pk)
    else:
        subject = Fulfillment.objects.get(order_id=fulfilled_order.pk)
    # Publishing the task goes to the plugin's publisher thread, as in
    # production, instead of running the whole task inline (Saleor's tests are
    # eager). That thread has its own connection, not captured; it only talks
    # to the broker, and its failure to reach one here (no broker runs in
    # Saleor's test settings; ~0.6 s of Celery's publish retries) is swallowed.
    monkeypatch.setattr(current_app.conf, "CELERY_TASK_ALWAYS_EAGER", False)

    # when Saleor calls the hook (inside a transaction, as in a mutation)
    with django_capture_on_commit_callbacks() as callbacks:
        with captured_statements() as in_hook:
            result = getattr(plugin, hook)(subject, "previous")
    # and the transaction commits
    with captured_statements() as after_commit:
        with django_capture_on_commit_callbacks(execute=True):
            for callback in callbacks:
                callback()
    # (the publisher thread is done before eager mode comes back: a task it ran
    # inline would open a connection of its own)
    published = threading.Event()
    in_background(published.set)
    assert published.wait(timeout=60)

    # then nothing ran in the hook, and one INSERT into the event log after commit
    assert result == "previous"
    assert _statements(in_hook) == []
    (statement,) = _statements(after_commit)
    assert statement.startswith(f"INSERT INTO {OrderEvent._meta.db_table} ")
    event = OrderEvent.objects.get()
    assert event.order_id == str(fulfilled_order.pk)
    assert event.processed_at is None


def test_worker_reads_a_saleor_order_in_a_constant_number_of_queries(
    fulfilled_order, payment_txn_refunded, transaction_item_generator
):
    # given a shipped order with two lines, one fulfillment and a refunded payment
    from saleor_support_plugin.saleor.ports import read_order

    order = fulfilled_order
    legacy_refunds = sum(
        transaction.amount
        for transaction in payment_txn_refunded.transactions.all()
        if transaction.kind == "refund" and transaction.is_success
    )
    assert legacy_refunds > 0
    with captured_statements() as small_queries:
        small = read_order(str(order.pk))

    # when the order grows: a third line, a second (cancelled) fulfillment and
    # two refunded transactions, and the worker reads it again (by id: nothing cached)
    line = order.lines.first()
    line.pk = uuid.uuid4()
    line._state.adding = True
    line.save()
    second = order.fulfillments.create(status=FulfillmentStatus.CANCELED)
    for each in order.lines.all():
        second.lines.create(order_line=each, quantity=each.quantity)
    for refunded in (Decimal(3), Decimal(4)):
        transaction_item_generator(
            order_id=order.pk, charged_value=Decimal(10), refunded_value=refunded
        )
    with captured_statements() as busy_queries:
        busy = read_order(str(order.pk))

    # then the same statements (one per relation, prefetched), and all was read
    assert len(_statements(busy_queries)) == len(_statements(small_queries)) == 7
    assert small is not None
    assert busy is not None
    assert (len(small.lines), len(small.fulfillments)) == (2, 1)
    assert small.total_refunded == legacy_refunds
    assert len(busy.lines) == 3
    assert sorted((f.status, len(f.lines)) for f in busy.fulfillments) == [
        ("canceled", 3),
        ("fulfilled", 2),
    ]
    assert busy.total_refunded == Decimal(7) + legacy_refunds
