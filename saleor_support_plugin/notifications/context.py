"""The data a notification carries: what templates and forwarded webhooks see.

Built when the event is processed and stored on the row, so a retry renders
the same facts even if the order changed meanwhile.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ..conf import SupportSettings, stored_template
from ..core.money import format_money
from ..orders.models import FulfillmentSnapshot, OrderLineSnapshot, OrderSnapshot
from .identity import store_name


def _money(amount: Any, currency: str) -> str:
    return format_money(amount, currency)


def build_context(
    plan: Any, snapshot: OrderSnapshot, settings: SupportSettings
) -> dict[str, Any]:
    lines = list(snapshot.lines.all())
    context: dict[str, Any] = {
        "kind": plan.kind.value,
        "order": {
            "id": snapshot.order_id,
            "number": snapshot.number,
            "customer_email": snapshot.customer_email,
            "customer_first_name": snapshot.customer_first_name,
            "placed_at": snapshot.placed_at.date().isoformat(),
            "total": _money(snapshot.total_gross, snapshot.currency),
            "currency": snapshot.currency,
            "lines": [_line(line, line.quantity) for line in lines],
        },
        "store": {"name": store_name(settings)},
    }
    extra = dict(plan.context)
    fulfillment_id = extra.pop("fulfillment_id", None)
    if fulfillment_id:
        row = FulfillmentSnapshot.objects.filter(fulfillment_id=fulfillment_id).first()
        if row is not None:
            context["fulfillment"] = fulfillment_context(row, settings)
            context["fulfillment"]["lines"] = _fulfilled_lines(row, lines)
            if row.carrier_status:
                context["carrier"] = {
                    "status": row.carrier_status,
                    "description": row.carrier_description,
                    "estimated_delivery": row.estimated_delivery.isoformat()
                    if row.estimated_delivery
                    else "",
                    "name": row.carrier,
                }
    if "delay_reason" in extra:
        estimated = context.get("carrier", {}).get("estimated_delivery", "")
        context["delay"] = {
            "reason": extra.pop("delay_reason"),
            "expected_date": estimated,
        }
    if "refund_amount" in extra:
        context["refund"] = {
            "amount": _money(extra.pop("refund_amount"), snapshot.currency),
            "total": _money(extra.pop("refund_total"), snapshot.currency),
        }
    if "return_status" in extra:
        context["return"] = {"status": extra.pop("return_status")}
    context.update(extra)
    return context


def _line(line: OrderLineSnapshot, quantity: int) -> dict[str, Any]:
    return {
        "product_name": line.product_name,
        "variant_name": line.variant_name,
        "quantity": quantity,
        "sku": line.sku or "",
        "unit_price": _money(line.unit_price_gross, line.currency),
    }


def _fulfilled_lines(
    row: FulfillmentSnapshot, lines: list[OrderLineSnapshot]
) -> list[dict[str, Any]]:
    """Return the order lines this fulfillment ships, with the quantity it ships."""
    by_id = {line.line_id: line for line in lines}
    shipped = []
    for entry in row.lines or []:
        line = by_id.get(str(entry.get("line_id")))
        if line is not None:
            shipped.append(_line(line, int(entry.get("quantity") or 0)))
    return shipped


def fulfillment_context(
    row: FulfillmentSnapshot, settings: SupportSettings
) -> dict[str, Any]:
    tracking_url = ""
    template = (
        stored_template("tracking_url_template", settings.tracking_url_template)
        if row.tracking_number
        else None
    )
    if template is not None:
        tracking_url = template.render(
            {
                "tracking_number": quote(row.tracking_number, safe=""),
                "carrier": quote(row.carrier, safe=""),
            }
        ).strip()
    return {
        "id": row.fulfillment_id,
        "composed_id": row.composed_id,
        "status": row.status,
        "tracking_number": row.tracking_number,
        "tracking_url": tracking_url,
    }
