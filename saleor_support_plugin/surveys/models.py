"""Surveys, their answers and the testimonials staff approve."""

from __future__ import annotations

import uuid

from django.db import models


class SurveyKind(models.TextChoices):
    NPS = "nps", "Net Promoter Score (0–10), after a purchase"
    CSAT = "csat", "Customer satisfaction (1–5), after a ticket"


class SurveyState(models.TextChoices):
    # Owed, not sent yet: waits for its due time (and for any open ticket about the order).
    SCHEDULED = "scheduled"
    SENT = "sent"
    # A score was recorded; the customer may still change it and add a comment.
    ANSWERED = "answered"
    # The customer submitted the answer: final.
    SUBMITTED = "submitted"
    # Not sent, with the reason (the ticket reopened, the order was refunded…).
    CANCELLED = "cancelled"


SCORE_RANGES = {SurveyKind.NPS: (0, 10), SurveyKind.CSAT: (1, 5)}


class Survey(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=8, choices=SurveyKind.choices)
    state = models.CharField(
        max_length=16, choices=SurveyState.choices, default=SurveyState.SCHEDULED
    )
    order = models.ForeignKey(
        "saleor_support_plugin.OrderSnapshot",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="surveys",
    )
    ticket = models.ForeignKey(
        "saleor_support_plugin.Ticket",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="surveys",
    )
    customer_email = models.EmailField(max_length=254, db_index=True)
    customer_user_id = models.CharField(max_length=64, null=True, blank=True)
    channel_slug = models.CharField(max_length=255, blank=True, default="")
    language_code = models.CharField(max_length=35, default="en")
    # What the survey counts from (delivery, fulfillment, the ticket's solving).
    trigger = models.CharField(max_length=32, blank=True, default="")
    triggered_at = models.DateTimeField()
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Why it was cancelled, or why it still waits (e.g. an open ticket).
    reason = models.CharField(max_length=255, blank=True, default="")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    comment = models.TextField(blank=True, default="")
    may_quote = models.BooleanField(default=False)
    answered_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    # When the closed loop last saw the answer (on submitting, or an hour after
    # a score left without "send"); a later change is seen again.
    loop_closed_at = models.DateTimeField(null=True, blank=True)
    # The follow-up ticket a detractor's answer opened.
    follow_up_ticket = models.ForeignKey(
        "saleor_support_plugin.Ticket",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="follow_up_of",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # One survey per order and one per ticket, whatever races.
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(kind="nps"),
                name="ssp_survey_one_nps_per_order",
            ),
            models.UniqueConstraint(
                fields=["ticket"],
                condition=models.Q(kind="csat"),
                name="ssp_survey_one_csat_per_ticket",
            ),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True)
                | models.Q(kind="nps", score__gte=0, score__lte=10)
                | models.Q(kind="csat", score__gte=1, score__lte=5),
                name="ssp_survey_score_in_range",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="ssp_survey_due",
                condition=models.Q(state="scheduled"),
            ),
            models.Index(fields=["kind", "answered_at"], name="ssp_survey_answered"),
            models.Index(fields=["kind", "sent_at"], name="ssp_survey_sent"),
        ]

    @property
    def score_range(self) -> tuple[int, int]:
        return SCORE_RANGES[SurveyKind(self.kind)]


class TestimonialState(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class Testimonial(models.Model):
    """A promoter's comment they allowed to be quoted; public once staff approve it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survey = models.OneToOneField(
        Survey, on_delete=models.CASCADE, related_name="testimonial"
    )
    text = models.TextField()
    # How the storefront names the author: first name and initial, never the email.
    author_name = models.CharField(max_length=100, blank=True, default="")
    language_code = models.CharField(max_length=35, default="en")
    channel_slug = models.CharField(max_length=255, blank=True, default="")
    score = models.PositiveSmallIntegerField()
    state = models.CharField(
        max_length=16,
        choices=TestimonialState.choices,
        default=TestimonialState.PENDING,
    )
    reviewed_by = models.CharField(max_length=254, blank=True, default="")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["channel_slug", "reviewed_at"],
                name="ssp_testimonial_approved",
                condition=models.Q(state="approved"),
            )
        ]
