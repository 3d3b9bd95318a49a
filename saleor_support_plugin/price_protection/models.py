"""Price protection's tables: price-change events, claims and their history."""

from __future__ import annotations

import uuid

from django.db import models

from ..orders.models import OrderLineSnapshot, OrderSnapshot


class PriceChangeSource(models.TextChoices):
    VARIANT_UPDATED = "variant_updated"
    DISCOUNTED_PRICE = "discounted_price"
    MANUAL = "manual"


class PriceChange(models.Model):
    """A hook's note that a variant's price may have changed: one INSERT, nothing read."""

    id = models.BigAutoField(primary_key=True)
    variant_id = models.CharField(max_length=64)
    # "" when the hook does not say (product_variant_updated: every channel).
    channel_slug = models.CharField(max_length=255, blank=True, default="")
    source = models.CharField(max_length=32, choices=PriceChangeSource.choices)
    created_at = models.DateTimeField()
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="ssp_price_change_pending",
                condition=models.Q(processed_at__isnull=True),
            )
        ]


class ClaimSource(models.TextChoices):
    # The plugin saw the shop's own price drop.
    AUTOMATIC = "automatic"
    # The customer showed a lower price (ours or another shop's).
    CUSTOMER = "customer"


class ClaimState(models.TextChoices):
    DETECTED = "detected"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    REFUND_REQUESTED = "refund_requested"
    REFUNDED = "refunded"
    FAILED = "failed"
    MANUAL_REFUND = "manual_refund", "Manual refund needed"
    REJECTED = "rejected"


# A line has at most one claim in these states (a database constraint): a further
# drop waits until the running one is settled, then claims only the extra difference.
OPEN_STATES = (
    ClaimState.DETECTED,
    ClaimState.PENDING_REVIEW,
    ClaimState.APPROVED,
    ClaimState.REFUND_REQUESTED,
    ClaimState.FAILED,
    ClaimState.MANUAL_REFUND,
)
# Money the claim stands for: counted against the line, order and customer caps.
COUNTED_STATES = (
    ClaimState.APPROVED,
    ClaimState.REFUND_REQUESTED,
    ClaimState.REFUNDED,
    ClaimState.FAILED,
    ClaimState.MANUAL_REFUND,
    ClaimState.DETECTED,
    ClaimState.PENDING_REVIEW,
)


class PriceClaim(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.BigIntegerField(unique=True)
    # Names the fact the claim comes from (a drop to a price on a line, a customer's
    # request): the same fact seen twice creates one claim.
    idempotency_key = models.CharField(max_length=255)
    order = models.ForeignKey(
        OrderSnapshot, on_delete=models.PROTECT, related_name="price_claims"
    )
    line = models.ForeignKey(
        OrderLineSnapshot, on_delete=models.PROTECT, related_name="price_claims"
    )
    source = models.CharField(max_length=16, choices=ClaimSource.choices)
    state = models.CharField(max_length=32, choices=ClaimState.choices)
    # Who the claim belongs to (Saleor user id, else the order's email): the
    # per-customer cap and the customer's own listing use these.
    customer_user_id = models.CharField(max_length=64, null=True, blank=True)
    # Indexed with created_at below (the customer cap, the customer's own list).
    customer_email = models.EmailField(max_length=254)
    channel_slug = models.CharField(max_length=255)
    currency = models.CharField(max_length=3)
    # Unit prices on one basis (gross or net, per the channel's tax setting).
    price_basis = models.CharField(max_length=8, default="gross")
    paid_unit_price = models.DecimalField(max_digits=20, decimal_places=3)
    new_unit_price = models.DecimalField(max_digits=20, decimal_places=3)
    quantity = models.PositiveIntegerField()
    # What the policy computed, and what was approved (≤ amount); refunds use approved.
    amount = models.DecimalField(max_digits=20, decimal_places=3)
    approved_amount = models.DecimalField(
        max_digits=20, decimal_places=3, null=True, blank=True
    )
    refund_method = models.CharField(max_length=32, default="original_payment")
    # Customer claims: where they saw the price, and what they said.
    evidence_url = models.URLField(max_length=2048, blank=True, default="")
    other_shop = models.BooleanField(default=False)
    note = models.TextField(blank=True, default="")
    ticket = models.ForeignKey(
        "saleor_support_plugin.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="price_claims",
    )
    # Shown to the customer when rejected; to staff when failed or manual.
    rejection_reason = models.TextField(blank=True, default="")
    failure_reason = models.CharField(max_length=255, blank=True, default="")
    # Refund attempt counter: each attempt has its own idempotency key.
    refund_attempt = models.PositiveSmallIntegerField(default=0)
    refund_key = models.CharField(max_length=255, blank=True, default="")
    refund_reference = models.CharField(max_length=255, blank=True, default="")
    refund_requested_at = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # A constraint rather than unique=True: no extra LIKE index to write
            # (10,000 claims of one drop are inserted in one statement).
            models.UniqueConstraint(
                fields=["idempotency_key"], name="ssp_price_claim_key_unique"
            ),
            models.UniqueConstraint(
                fields=["line"],
                condition=models.Q(state__in=[s.value for s in OPEN_STATES]),
                name="ssp_price_claim_one_open_per_line",
            ),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0),
                name="ssp_price_claim_amount_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(approved_amount__isnull=True)
                | models.Q(
                    approved_amount__gt=0, approved_amount__lte=models.F("amount")
                ),
                name="ssp_price_claim_approved_within_amount",
            ),
        ]
        indexes = [
            models.Index(
                fields=["state", "created_at"], name="ssp_claim_state_created"
            ),
            models.Index(
                fields=["customer_user_id", "created_at"], name="ssp_claim_user_created"
            ),
            models.Index(
                fields=["customer_email", "created_at"], name="ssp_claim_email_created"
            ),
            models.Index(
                fields=["refund_requested_at"],
                name="ssp_claim_refund_in_flight",
                condition=models.Q(state="refund_requested"),
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        return f"PC-{self.number}"

    @property
    def refund_amount(self):
        return self.approved_amount if self.approved_amount is not None else self.amount


class ActorKind(models.TextChoices):
    SYSTEM = "system"
    STAFF = "staff"
    CUSTOMER = "customer"
    HOST = "host"  # the shop's payment system reporting back


class PriceClaimTransition(models.Model):
    """Every state change of a claim, with who or what made it."""

    id = models.BigAutoField(primary_key=True)
    claim = models.ForeignKey(
        PriceClaim, on_delete=models.CASCADE, related_name="transitions"
    )
    from_state = models.CharField(max_length=32, blank=True, default="")
    to_state = models.CharField(max_length=32)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    actor_id = models.CharField(max_length=64, blank=True, default="")
    actor_email = models.CharField(max_length=254, blank=True, default="")
    note = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]
