"""The updates customers get; no Django models here, so configuration can use it."""

from enum import StrEnum


class NotificationKind(StrEnum):
    CONFIRMED = "confirmed"
    SHIPPED = "shipped"
    TRACKING_UPDATED = "tracking_updated"
    DELAYED = "delayed"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    DELIVERY_EXCEPTION = "delivery_exception"
    CANCELLED = "cancelled"
    RETURN_RECEIVED = "return_received"
    REFUND_ISSUED = "refund_issued"
    TICKET_REPLY = "ticket_reply"
    TICKET_CREATED = "ticket_created"
    TICKET_CUSTOMER_REPLY = "ticket_customer_reply"
    TICKET_SLA_BREACH = "ticket_sla_breach"
    PRICE_REFUNDED = "price_refunded"
    PRICE_CLAIM_RECEIVED = "price_claim_received"
    PRICE_CLAIM_REJECTED = "price_claim_rejected"
    PRICE_REFUND_MANUAL = "price_refund_manual"
    SURVEY_NPS = "survey_nps"
    SURVEY_CSAT = "survey_csat"
    WEEKLY_REPORT = "weekly_report"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    NotificationKind.CONFIRMED: "Order confirmed",
    NotificationKind.SHIPPED: "Shipped",
    NotificationKind.TRACKING_UPDATED: "Tracking updated",
    NotificationKind.DELAYED: "Delayed",
    NotificationKind.OUT_FOR_DELIVERY: "Out for delivery",
    NotificationKind.DELIVERED: "Delivered",
    NotificationKind.DELIVERY_EXCEPTION: "Delivery problem",
    NotificationKind.CANCELLED: "Cancelled",
    NotificationKind.RETURN_RECEIVED: "Return received",
    NotificationKind.REFUND_ISSUED: "Refund issued",
    NotificationKind.TICKET_REPLY: "Ticket reply (to the customer)",
    NotificationKind.TICKET_CREATED: "New ticket (to staff)",
    NotificationKind.TICKET_CUSTOMER_REPLY: "Customer replied (to staff)",
    NotificationKind.TICKET_SLA_BREACH: "SLA breached (to staff)",
    NotificationKind.PRICE_REFUNDED: "Price difference refunded",
    NotificationKind.PRICE_CLAIM_RECEIVED: "Price claim received",
    NotificationKind.PRICE_CLAIM_REJECTED: "Price claim rejected",
    NotificationKind.PRICE_REFUND_MANUAL: "Manual price refund needed (to staff)",
    NotificationKind.SURVEY_NPS: "Purchase survey (NPS)",
    NotificationKind.SURVEY_CSAT: "Ticket survey (CSAT)",
    NotificationKind.WEEKLY_REPORT: "Weekly service report (to staff)",
}

# Updates about a ticket rather than an order.
TICKET_KINDS = frozenset(
    {
        NotificationKind.TICKET_REPLY,
        NotificationKind.TICKET_CREATED,
        NotificationKind.TICKET_CUSTOMER_REPLY,
        NotificationKind.TICKET_SLA_BREACH,
    }
)

# Price protection's emails: sent when price protection is on, whatever the
# proactive-update switch says.
PRICE_KINDS = frozenset(
    {
        NotificationKind.PRICE_REFUNDED,
        NotificationKind.PRICE_CLAIM_RECEIVED,
        NotificationKind.PRICE_CLAIM_REJECTED,
        NotificationKind.PRICE_REFUND_MANUAL,
    }
)

# Survey invitations: sent when surveys are on; an opt-out suppresses them.
SURVEY_KINDS = frozenset({NotificationKind.SURVEY_NPS, NotificationKind.SURVEY_CSAT})

# Messages consumers are entitled to whatever their preferences: confirmation of
# the contract, its cancellation and refunds of their money. An opt-out never
# suppresses these; it suppresses shipping-progress updates.
TRANSACTIONAL_KINDS = frozenset(
    {
        NotificationKind.CONFIRMED,
        NotificationKind.CANCELLED,
        NotificationKind.REFUND_ISSUED,
        # The answer to the customer's own request, and staff's work mail.
        *TICKET_KINDS,
        # Money back, and the answer to the customer's own claim.
        *PRICE_KINDS,
        # Staff's work mail: no unsubscribe link, no opt-out.
        NotificationKind.WEEKLY_REPORT,
    }
)
