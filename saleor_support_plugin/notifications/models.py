"""The transactional outbox: one row per message a customer (or a merchant system) must get."""

from __future__ import annotations

import uuid

from django.db import models

from .kinds import NotificationKind


class NotificationChannel(models.TextChoices):
    EMAIL = "email"
    WEBHOOK = "webhook"


class NotificationStatus(models.TextChoices):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    SUPPRESSED = "suppressed"


class Notification(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # kind + what it is about + channel: the same fact never yields a second row.
    dedupe_key = models.CharField(max_length=255, unique=True)
    kind = models.CharField(
        max_length=32, choices=[(kind.value, kind.label) for kind in NotificationKind]
    )
    channel = models.CharField(max_length=16, choices=NotificationChannel.choices)
    event = models.ForeignKey(
        "saleor_support_plugin.OrderEvent", on_delete=models.SET_NULL, null=True
    )
    order_id = models.CharField(max_length=64, null=True, blank=True, db_index=True)
    recipient = models.CharField(max_length=2048)
    language_code = models.CharField(max_length=35, default="en")
    context = models.JSONField(default=dict)
    status = models.CharField(
        max_length=16,
        choices=NotificationStatus.choices,
        default=NotificationStatus.PENDING,
    )
    reason = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_dispatched_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="ssp_notification_due",
                condition=models.Q(status="pending"),
            )
        ]

    @property
    def message_id(self) -> str:
        """Stable across retries, so a mail system can tell a resend from a new message.

        Email rows store theirs (with the sender's domain) in the context when
        written; older rows and webhook rows keep the fixed domain.
        """
        headers = (self.context or {}).get("email_headers")
        if isinstance(headers, dict) and headers.get("Message-ID"):
            return str(headers["Message-ID"])
        return f"<{self.id}@support.saleor-plugin>"


class EmailOptOut(models.Model):
    email = models.EmailField(max_length=254, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
