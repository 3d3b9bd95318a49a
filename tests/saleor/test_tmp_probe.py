import pytest

pytest.importorskip("saleor")

from .test_proactive_updates_in_saleor import *  # noqa


def test_back_to_old_number(
    support_plugin_with_sender, post_as_staff, plugin_mails, order_with_lines, warehouse
):
    data = post_as_staff(
        MUTATION_ORDER_FULFILL, fulfill_variables(order_with_lines, warehouse, "A-1")
    )
    (f,) = data["orderFulfill"]["fulfillments"]
    post_as_staff(
        MUTATION_FULFILLMENT_UPDATE_TRACKING, {"id": f["id"], "tracking": "B-2"}
    )
    post_as_staff(
        MUTATION_FULFILLMENT_UPDATE_TRACKING, {"id": f["id"], "tracking": "A-1"}
    )
    print(
        "SUBJECTS",
        [(m.subject, "A-1" in m.body, "B-2" in m.body) for m in plugin_mails()],
    )
    from saleor_support_plugin.orders.models import FulfillmentSnapshot

    print(
        "SNAP",
        list(FulfillmentSnapshot.objects.values_list("tracking_number", flat=True)),
    )
