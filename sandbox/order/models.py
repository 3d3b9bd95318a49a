"""The sandbox's own orders: tables shaped like Saleor's Order, OrderLine, Fulfillment.

Attribute names follow Saleor 3.24, so the plugin's readers
(`saleor_support_plugin.saleor.readers`) read these rows as they read Saleor's
models, and the plugin's worker reads the order "as it is now" from here
outside Saleor (see `sandbox.order.reader`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


class OrderPermissions(models.Model):
    """No table: only the permissions, named like Saleor's (`order.manage_orders`)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("manage_orders", "Manage orders.")]


@dataclass(frozen=True)
class Channel:
    """Saleor's Channel, as far as the plugin reads it."""

    slug: str


@dataclass(frozen=True)
class Address:
    first_name: str


class _NoPayments:
    """The sandbox has no legacy payments (Saleor's `order.payments`); refunds are transactions."""

    def all(self) -> list[Any]:
        return []


class Order(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.PositiveIntegerField(unique=True)
    channel_slug = models.CharField(max_length=255, default="default-channel")
    status = models.CharField(max_length=32, default="unfulfilled")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    user_email = models.EmailField(blank=True, default="")
    billing_first_name = models.CharField(max_length=256, blank=True, default="")
    language_code = models.CharField(max_length=35, default="en")
    currency = models.CharField(max_length=3, default="USD")
    total_gross_amount = models.DecimalField(max_digits=20, decimal_places=3, default=0)

    def __str__(self) -> str:
        return f"#{self.number}"

    @property
    def channel(self) -> Channel:
        return Channel(slug=self.channel_slug)

    @property
    def billing_address(self) -> Address | None:
        return Address(self.billing_first_name) if self.billing_first_name else None

    @property
    def payments(self) -> _NoPayments:
        return _NoPayments()

    def get_customer_email(self) -> str:
        return self.user.email if self.user_id and self.user else self.user_email


class OrderLine(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant_id = models.IntegerField(null=True, blank=True)
    product_name = models.CharField(max_length=386)
    variant_name = models.CharField(max_length=255, blank=True, default="")
    product_sku = models.CharField(max_length=255, null=True, blank=True)
    quantity = models.PositiveIntegerField(default=1)
    quantity_fulfilled = models.PositiveIntegerField(default=0)
    currency = models.CharField(max_length=3, default="USD")
    unit_price_gross_amount = models.DecimalField(max_digits=20, decimal_places=3)
    # Saleor has it on every line; None here means "as gross" (no tax in the demo).
    unit_price_net_amount = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True
    )
    undiscounted_unit_price_gross_amount = models.DecimalField(
        max_digits=20, decimal_places=3
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]  # as Saleor's OrderLine


class Fulfillment(models.Model):
    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="fulfillments"
    )
    fulfillment_order = models.PositiveIntegerField()
    status = models.CharField(max_length=32, default="fulfilled")
    tracking_number = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]

    @property
    def composed_id(self) -> str:
        return f"{self.order.number}-{self.fulfillment_order}"


class FulfillmentLine(models.Model):
    fulfillment = models.ForeignKey(
        Fulfillment, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE)
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["pk"]


class TransactionItem(models.Model):
    """Saleor's TransactionItem (the Transactions API): what the payment app refunded."""

    order = models.ForeignKey(
        Order, on_delete=models.CASCADE, related_name="payment_transactions"
    )
    charged_value = models.DecimalField(max_digits=20, decimal_places=3, default=0)
    refunded_value = models.DecimalField(max_digits=20, decimal_places=3, default=0)
    modified_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["pk"]


class VariantChannelListing(models.Model):
    """The sandbox's price table, shaped like Saleor's ProductVariantChannelListing."""

    variant_id = models.IntegerField()
    channel_slug = models.CharField(max_length=255, default="default-channel")
    product_name = models.CharField(max_length=386, blank=True, default="")
    currency = models.CharField(max_length=3, default="USD")
    price_amount = models.DecimalField(max_digits=20, decimal_places=3)
    # Set while a promotion applies, as Saleor's discounted price.
    discounted_price_amount = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True
    )
    # Saleor's TaxConfiguration.prices_entered_with_tax of the channel.
    prices_entered_with_tax = models.BooleanField(default=True)
    # Product and variant metadata, merged (e.g. {"price_protection": "exclude"}).
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["variant_id", "channel_slug"], name="sandbox_listing_unique"
            )
        ]


class Refund(models.Model):
    """A refund the sandbox's executor made: what a payment app would have done."""

    key = models.CharField(max_length=255, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    amount = models.DecimalField(max_digits=20, decimal_places=3)
    currency = models.CharField(max_length=3)
    method = models.CharField(max_length=32)
    # Gift cards: the code the customer redeems.
    gift_card_code = models.CharField(max_length=32, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
