"""Proactive order updates inside a real Saleor 3.24, driven by its own mutations.

Staff run Saleor's GraphQL mutations; Saleor calls the plugin's hooks, the
plugin's Celery tasks run eagerly and send through Saleor's email backend
(locmem in Saleor's test settings), so `mailoutbox` holds what customers get.
"""

import pytest

pytest.importorskip(
    "saleor",
    reason="Saleor is not installed: the Saleor suite runs only in a Saleor environment",
)

import graphene  # noqa: E402
from celery import current_app  # noqa: E402
from saleor.graphql.tests.utils import get_graphql_content  # noqa: E402
from saleor.order import FulfillmentStatus, OrderStatus  # noqa: E402
from saleor.order.models import Fulfillment  # noqa: E402

from saleor_support_plugin.notifications.models import (  # noqa: E402
    Notification,
    NotificationStatus,
)
from saleor_support_plugin.orders.models import OrderEvent  # noqa: E402
from saleor_support_plugin.saleor import hooks  # noqa: E402

from .fixtures import SUPPORT_SENDER_ADDRESS, SUPPORT_SENDER_NAME  # noqa: E402

SENDER = f"{SUPPORT_SENDER_NAME} <{SUPPORT_SENDER_ADDRESS}>"

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
    events = OrderEvent.objects.count()

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
    assert OrderEvent.objects.count() == events


def test_a_failing_hook_does_not_break_the_saleor_mutation(
    support_plugin_with_sender,
    post_as_staff,
    plugin_mails,
    order_with_lines,
    warehouse,
    monkeypatch,
    caplog,
):
    # given the plugin cannot read orders
    calls = []

    def broken_read_order(order):
        calls.append(order.pk)
        raise RuntimeError("boom")

    monkeypatch.setattr(hooks, "read_order", broken_read_order)
    order = order_with_lines

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
    assert calls == [order.pk] * 5
    failures = [
        record
        for record in caplog.records
        if record.name == hooks.__name__ and record.levelname == "ERROR"
    ]
    assert len(failures) == 5
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


def _hook_queries(hook, subject) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        hook(subject)
    return [query["sql"] for query in queries.captured_queries]


def test_hook_reads_a_saleor_order_in_a_constant_number_of_queries(
    support_plugin, order, fulfilled_order
):
    # given an order without lines and a fulfilled order with lines and a fulfillment
    from saleor.order.models import Order

    from saleor_support_plugin.saleor import hooks

    empty = Order.objects.get(pk=order.pk)
    shipped = Order.objects.get(pk=fulfilled_order.pk)
    # when the hook reads each (fresh instances: nothing prefetched by Saleor)
    empty_queries = _hook_queries(hooks.order_confirmed, empty)
    shipped_queries = _hook_queries(hooks.order_confirmed, shipped)
    # then the count does not grow with lines or fulfillments, and one INSERT is made
    assert len(shipped_queries) == len(empty_queries)
    inserts = [sql for sql in shipped_queries if sql.startswith("INSERT")]
    assert len(inserts) == 1
    assert len(shipped_queries) <= 10
