"""Support tickets and their messages."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector
from django.db import models
from django.db.models.functions import Coalesce

# Tags staff put on tickets that are no customer contact of their own (junk, or
# a duplicate merged into another ticket): never surveyed, never counted.
UNCOUNTED_TAGS = ("spam", "merged")


class TicketStatus(models.TextChoices):
    OPEN = "open", "Open"
    PENDING_CUSTOMER = "pending_customer", "Pending customer"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


class TicketPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    URGENT = "urgent", "Urgent"


PRIORITY_RANK = {
    TicketPriority.LOW: 0,
    TicketPriority.NORMAL: 1,
    TicketPriority.HIGH: 2,
    TicketPriority.URGENT: 3,
}


class TicketChannel(models.TextChoices):
    WEB = "web", "Web"
    EMAIL = "email", "Email"
    CHAT = "chat", "Chat"
    PHONE = "phone", "Phone"
    SOCIAL = "social", "Social"


class TicketCategory(models.TextChoices):
    ORDER_STATUS = "order_status", "Order status"
    SHIPPING = "shipping", "Shipping"
    RETURN = "return", "Return"
    REFUND = "refund", "Refund"
    PRODUCT_QUESTION = "product_question", "Product question"
    PRICE_PROTECTION = "price_protection", "Price protection"
    # A follow-up a low survey score opened.
    FEEDBACK = "feedback", "Feedback"
    OTHER = "other", "Other"


def ticket_reference(number: int) -> str:
    return f"T-{number}"


class Ticket(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    number = models.BigIntegerField(
        unique=True, help_text="Human-readable number, from a sequence."
    )
    subject = models.CharField(max_length=200)
    status = models.CharField(
        max_length=32, choices=TicketStatus.choices, default=TicketStatus.OPEN
    )
    priority = models.CharField(
        max_length=16, choices=TicketPriority.choices, default=TicketPriority.NORMAL
    )
    priority_rank = models.PositiveSmallIntegerField(
        default=1, help_text="For sorting by priority."
    )
    channel = models.CharField(
        max_length=16, choices=TicketChannel.choices, default=TicketChannel.WEB
    )
    category = models.CharField(
        max_length=32, choices=TicketCategory.choices, default=TicketCategory.OTHER
    )
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    customer_user_id = models.CharField(
        max_length=64, null=True, blank=True, db_index=True
    )
    customer_email = models.EmailField(max_length=254, db_index=True)
    # False when the ticket came by email from a sender the mail provider did not
    # authenticate (no DMARC pass or aligned DKIM/SPF pass): such a ticket is not
    # attached to the account with that address, and staff should not trust it.
    sender_verified = models.BooleanField(default=True, db_default=True)
    order = models.ForeignKey(
        "saleor_support_plugin.OrderSnapshot",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tickets",
    )
    assignee_user_id = models.CharField(
        max_length=64, null=True, blank=True, db_index=True
    )
    assignee_email = models.EmailField(max_length=254, blank=True, default="")
    tier = models.PositiveSmallIntegerField(default=1)
    first_response_due_at = models.DateTimeField(null=True, blank=True)
    resolution_due_at = models.DateTimeField(null=True, blank=True)
    first_responded_at = models.DateTimeField(null=True, blank=True)
    first_response_breached_at = models.DateTimeField(null=True, blank=True)
    resolution_breached_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    # The SLA clocks stand still while the ticket waits for the customer: when
    # the current wait began, and the business seconds of the waits that ended.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_business_seconds = models.PositiveIntegerField(default=0, db_default=0)
    # Durations in business hours without the waits, taken when they happen
    # (the statistics read them instead of replaying the calendar per ticket).
    first_response_business_seconds = models.PositiveIntegerField(null=True, blank=True)
    resolution_business_seconds = models.PositiveIntegerField(null=True, blank=True)
    # Public staff replies (first-contact resolution: solved after exactly one).
    staff_public_replies = models.PositiveIntegerField(default=0, db_default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        indexes = [
            GinIndex(
                SearchVector("subject", config="simple"),
                name="ssp_ticket_subject_search",
            ),
            models.Index(
                fields=["status", "priority_rank"], name="ssp_ticket_status_priority"
            ),
            models.Index(
                fields=["customer_user_id", "created_at"],
                name="ssp_ticket_customer_created",
            ),
            # The statistics: tickets still open, and tickets by resolution time.
            models.Index(
                fields=["created_at"],
                name="ssp_ticket_open_created",
                condition=~models.Q(status__in=["solved", "closed"]),
            ),
            models.Index(
                Coalesce("solved_at", "closed_at"), name="ssp_ticket_resolved"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.subject}"

    @property
    def reference(self) -> str:
        """How people name the ticket: never mistaken for an order number (#1001)."""
        return ticket_reference(self.number)


class AuthorKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    STAFF = "staff", "Staff"
    SYSTEM = "system", "System"


class TicketMessage(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages"
    )
    author_kind = models.CharField(max_length=16, choices=AuthorKind.choices)
    author_user_id = models.CharField(max_length=64, null=True, blank=True)
    author_email = models.EmailField(max_length=254, blank=True, default="")
    body_html = models.TextField(help_text="Sanitized HTML.")
    body_text = models.TextField(help_text="Plain text, for search and text emails.")
    is_internal = models.BooleanField(
        default=False, help_text="Staff-only note; never shown to customers."
    )
    channel = models.CharField(
        max_length=16, choices=TicketChannel.choices, default=TicketChannel.WEB
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [
            models.Index(
                fields=["ticket", "created_at"], name="ssp_message_ticket_created"
            ),
            # Staff search; the selector uses the same expression, so the index applies.
            GinIndex(
                SearchVector("body_text", config="simple"), name="ssp_message_search"
            ),
        ]


class Macro(models.Model):
    """A canned reply with Handlebars placeholders, applied by staff to a ticket."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, unique=True)
    body = models.TextField(
        help_text="Handlebars: customer_name, order_number, tracking_number, tracking_link, ticket_number."
    )
    set_status = models.CharField(
        max_length=32, choices=TicketStatus.choices, blank=True, default=""
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class RoutingRule(models.Model):
    """Conditions on a new ticket → priority, tier, assignee, tags. Rules apply in position order."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0, db_index=True)
    is_active = models.BooleanField(default=True)
    # Conditions: an empty list matches anything; all non-empty lists must match.
    categories = ArrayField(models.CharField(max_length=32), default=list, blank=True)
    channels = ArrayField(models.CharField(max_length=16), default=list, blank=True)
    keywords = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    order_statuses = ArrayField(
        models.CharField(max_length=32), default=list, blank=True
    )
    # Actions: empty means "leave as is".
    set_priority = models.CharField(
        max_length=16, choices=TicketPriority.choices, blank=True, default=""
    )
    set_tier = models.PositiveSmallIntegerField(null=True, blank=True)
    assign_user_id = models.CharField(max_length=64, blank=True, default="")
    assign_email = models.EmailField(max_length=254, blank=True, default="")
    add_tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "created_at"]


class InboundEmail(models.Model):
    """Each inbound email once (by Message-ID), and what became of it."""

    message_id = models.CharField(max_length=998, unique=True)
    sender = models.EmailField(max_length=254)
    ticket = models.ForeignKey(Ticket, on_delete=models.SET_NULL, null=True, blank=True)
    # The order email (Notification id) this mail answered, when it opened or
    # joined that order's ticket: a second reply to the same email joins it too.
    order_notification_id = models.UUIDField(null=True, blank=True, db_index=True)
    outcome = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)
