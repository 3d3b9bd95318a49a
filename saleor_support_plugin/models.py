"""Django discovers the app's models here; each feature defines its own."""

from .core.models import RateLimitCounter
from .notifications.models import EmailOptOut, Notification
from .orders.models import (
    FulfillmentSnapshot,
    OrderEvent,
    OrderLineSnapshot,
    OrderSnapshot,
)
from .price_protection.models import PriceChange, PriceClaim, PriceClaimTransition
from .surveys.models import Survey, Testimonial
from .tickets.models import InboundEmail, Macro, RoutingRule, Ticket, TicketMessage

__all__ = [
    "RateLimitCounter",
    "EmailOptOut",
    "InboundEmail",
    "Macro",
    "RoutingRule",
    "FulfillmentSnapshot",
    "Notification",
    "OrderEvent",
    "OrderLineSnapshot",
    "OrderSnapshot",
    "PriceChange",
    "PriceClaim",
    "PriceClaimTransition",
    "Survey",
    "Testimonial",
    "Ticket",
    "TicketMessage",
]
