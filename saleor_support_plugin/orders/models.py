"""What the plugin keeps of orders: a snapshot for support, and an event log.

Other features (tickets, price protection, surveys) read these tables and
never Saleor's.
"""

from __future__ import annotations

import uuid

from django.db import models


class OrderSnapshot(models.Model):
    order_id = models.CharField(
        max_length=64, unique=True, help_text="Saleor's order id (UUID)."
    )
    number = models.CharField(max_length=32, db_index=True)
    channel_slug = models.CharField(max_length=255)
    status = models.CharField(max_length=32)
    placed_at = models.DateTimeField()
    customer_email = models.EmailField(max_length=254, db_index=True)
    customer_first_name = models.CharField(max_length=256, blank=True, default="")
    user_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    language_code = models.CharField(max_length=35, default="en")
    currency = models.CharField(max_length=3)
    total_gross = models.DecimalField(max_digits=20, decimal_places=3)
    total_refunded = models.DecimalField(max_digits=20, decimal_places=3, default=0)
    # The hook time of the event this state came from: older events never overwrite newer state.
    observed_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "placed_at"], name="ssp_order_status_placed")
        ]

    def __str__(self) -> str:
        return f"Order #{self.number}"


class OrderLineSnapshot(models.Model):
    order = models.ForeignKey(
        OrderSnapshot, on_delete=models.CASCADE, related_name="lines"
    )
    line_id = models.CharField(max_length=64, unique=True)
    variant_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    sku = models.CharField(max_length=255, null=True, blank=True)
    product_name = models.CharField(max_length=386)
    variant_name = models.CharField(max_length=255, blank=True, default="")
    quantity = models.PositiveIntegerField()
    quantity_fulfilled = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3)
    unit_price_gross = models.DecimalField(max_digits=20, decimal_places=3)
    unit_price_net = models.DecimalField(max_digits=20, decimal_places=3, default=0)
    undiscounted_unit_price_gross = models.DecimalField(max_digits=20, decimal_places=3)
    # The purchase snapshot price protection searches: copied from the order so
    # one indexed statement finds a variant's lines in a channel and window.
    channel_slug = models.CharField(max_length=255, default="")
    placed_at = models.DateTimeField(null=True, blank=True)
    # What the customer still has: bought, minus returned, refunded or replaced
    # quantities; 0 for a cancelled order.
    quantity_kept = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(
                fields=["variant_id", "channel_slug", "placed_at"],
                name="ssp_line_variant_purchase",
                condition=models.Q(quantity_kept__gt=0),
            )
        ]


class FulfillmentSnapshot(models.Model):
    order = models.ForeignKey(
        OrderSnapshot, on_delete=models.CASCADE, related_name="fulfillments"
    )
    fulfillment_id = models.CharField(max_length=64, unique=True)
    composed_id = models.CharField(max_length=64)
    status = models.CharField(max_length=32)
    tracking_number = models.CharField(
        max_length=255, blank=True, default="", db_index=True
    )
    # How many times the tracking number changed: names each change, so that a
    # change back to an earlier number (A → B → A) is news again.
    tracking_changes = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()
    lines = models.JSONField(default=list, help_text="[{line_id, quantity}]")
    carrier = models.CharField(max_length=64, blank=True, default="")
    carrier_status = models.CharField(max_length=32, blank=True, default="")
    carrier_description = models.TextField(blank=True, default="")
    carrier_event_at = models.DateTimeField(null=True, blank=True)
    estimated_delivery = models.DateField(null=True, blank=True)
    # Last sign of life from the shipment (shipped, tracking changed, carrier event).
    last_activity_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)


class OrderEventType(models.TextChoices):
    PLACED = "placed"
    CONFIRMED = "confirmed"
    FULLY_PAID = "fully_paid"
    FULFILLMENT_CREATED = "fulfillment_created"
    TRACKING_UPDATED = "tracking_updated"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"
    UPDATED = "updated"
    CARRIER = "carrier"
    DELAY_UNSHIPPED = "delay_unshipped"
    DELAY_TRACKING_SILENT = "delay_tracking_silent"


class OrderEventSource(models.TextChoices):
    HOOK = "hook"
    CARRIER = "carrier"
    SYSTEM = "system"


class OrderEvent(models.Model):
    """One real-world event; the unique key makes every repeat a no-op."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    idempotency_key = models.CharField(max_length=255, unique=True)
    type = models.CharField(max_length=32, choices=OrderEventType.choices)
    source = models.CharField(max_length=16, choices=OrderEventSource.choices)
    order_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # Why processing did nothing (e.g. a carrier event for an unknown tracking number),
    # or "failed: …" when processing was given up on.
    outcome = models.CharField(max_length=255, blank=True, default="")
    # Processing attempts that raised: a row that keeps failing is given up on
    # after a bound instead of being retried by the sweeper forever. Database
    # defaults too, so raw INSERTs (record_event, code of the previous release
    # during a deploy) need not name these columns.
    failed_attempts = models.PositiveSmallIntegerField(default=0, db_default=0)
    last_error = models.CharField(max_length=255, blank=True, default="", db_default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="ssp_event_unprocessed",
                condition=models.Q(processed_at__isnull=True),
            )
        ]
