"""Outbox rows and order events as staff see them."""

from __future__ import annotations

import graphene

from ...notifications.kinds import NotificationKind
from ...notifications.models import (
    Notification,
    NotificationChannel,
    NotificationStatus,
)
from ...notifications.selectors import OrderUpdates, redact_error
from ...orders.models import OrderEvent
from ..base import described_enum, enum_from_choices, global_id
from ..tickets import SupportOrder

NotificationKindEnum = described_enum(
    "SupportNotificationKind",
    {kind.value: f"{kind.label}." for kind in NotificationKind},
    "Which update a notification carries.",
)
NotificationStatusEnum = described_enum(
    "SupportNotificationStatus",
    {
        NotificationStatus.PENDING: "Not delivered yet; retried with backoff.",
        NotificationStatus.SENT: "Delivered to the mail server or webhook.",
        NotificationStatus.FAILED: "Given up on; `reason` and `lastError` say why.",
        NotificationStatus.SUPPRESSED: "Deliberately not sent; `reason` says why.",
    },
    "Where a notification is in its delivery.",
)
NotificationChannelEnum = enum_from_choices(
    "SupportNotificationChannel", NotificationChannel, "How a notification travels."
)


class SupportNotification(graphene.ObjectType):
    id = graphene.ID(
        required=True, description="Global ID (`SupportNotification:<uuid>`)."
    )
    kind = graphene.Field(
        NotificationKindEnum, required=True, description="The update."
    )
    channel = graphene.Field(
        NotificationChannelEnum, required=True, description="Email or webhook."
    )
    recipient = graphene.String(
        required=True, description="The address or URL it goes to."
    )
    status = graphene.Field(
        NotificationStatusEnum, required=True, description="Delivery state."
    )
    reason = graphene.String(
        required=True,
        description="Why it was suppressed or failed (e.g. `switched off`, `unsubscribed`).",
    )
    attempts = graphene.Int(required=True, description="Delivery attempts so far.")
    last_error = graphene.String(
        required=True, description="The last delivery error (credentials removed)."
    )
    message_id = graphene.String(
        required=True, description="The Message-ID it is (or will be) sent with."
    )
    created_at = graphene.DateTime(required=True, description="When it was planned.")
    next_attempt_at = graphene.DateTime(
        description="When a pending notification is tried next."
    )
    sent_at = graphene.DateTime(description="When it was delivered.")

    class Meta:
        description = "One update the plugin planned for a customer (or staff)."

    @staticmethod
    def resolve_id(root: Notification, _info):
        return global_id("SupportNotification", root.pk)

    @staticmethod
    def resolve_next_attempt_at(root: Notification, _info):
        return (
            root.next_attempt_at if root.status == NotificationStatus.PENDING else None
        )

    @staticmethod
    def resolve_last_error(root: Notification, _info):
        return redact_error(root.last_error)


class SupportOrderEvent(graphene.ObjectType):
    type = graphene.String(
        required=True,
        description="What happened (e.g. `confirmed`, `tracking_updated`, `carrier`).",
    )
    source = graphene.String(
        required=True, description="Who reported it: `hook`, `carrier` or `system`."
    )
    occurred_at = graphene.DateTime(required=True, description="When it happened.")
    processed_at = graphene.DateTime(description="When the plugin processed it.")
    outcome = graphene.String(
        required=True,
        description="Why it led to no update, or `failed: …` when processing gave up; empty otherwise.",
    )
    failed_attempts = graphene.Int(
        required=True, description="Processing attempts that raised."
    )

    class Meta:
        description = "An event the plugin recorded for an order."

    @staticmethod
    def resolve_failed_attempts(root: OrderEvent, _info):
        return root.failed_attempts or 0


class SupportOrderUpdates(graphene.ObjectType):
    order = graphene.Field(
        SupportOrder, description="The order as the plugin saw it (null if never seen)."
    )
    notifications = graphene.List(
        graphene.NonNull(SupportNotification),
        required=True,
        description="Every update planned for this order, oldest first.",
    )
    events = graphene.List(
        graphene.NonNull(SupportOrderEvent),
        required=True,
        description="Every event recorded for this order, oldest first.",
    )

    class Meta:
        description = "What the customer was told about an order, and what happened."

    @staticmethod
    def resolve_order(root: OrderUpdates, _info):
        return root.order

    @staticmethod
    def resolve_notifications(root: OrderUpdates, _info):
        return root.notifications

    @staticmethod
    def resolve_events(root: OrderUpdates, _info):
        return root.events
