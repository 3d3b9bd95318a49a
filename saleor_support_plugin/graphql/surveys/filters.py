"""Which testimonials a caller may list."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from ...surveys.models import Testimonial, TestimonialState


def public_testimonials(
    *, channel: str | None = None, language_code: str | None = None
) -> QuerySet[Testimonial]:
    """Approved testimonials, latest approved first; `de` also matches `de-AT`."""
    testimonials = Testimonial.objects.filter(state=TestimonialState.APPROVED)
    if channel:
        testimonials = testimonials.filter(channel_slug=channel.strip())
    if language_code:
        code = language_code.strip().lower().replace("_", "-")
        testimonials = testimonials.filter(
            Q(language_code__iexact=code)
            | Q(language_code__istartswith=f"{code}-")
            | Q(language_code__istartswith=f"{code}_")
        )
    return testimonials.order_by("-reviewed_at", "-created_at", "pk")


def testimonials_for_review(state: str | None) -> QuerySet[Testimonial]:
    """Testimonials in one review state (pending when none), oldest first: a queue."""
    return (
        Testimonial.objects.filter(state=state or TestimonialState.PENDING)
        .select_related("survey__order", "survey__ticket__order")
        .order_by("created_at", "pk")
    )
