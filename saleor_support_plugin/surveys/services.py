"""Recording answers: a one-click score, the customer's comment, the closed loop.

A score is recorded by the survey page's POST (never by the GET a mail scanner
prefetches) and may be changed until the customer submits; submitting (or an
hour of silence after the score) makes the answer final. A final low score
opens one follow-up ticket; a promoter's comment they allow us to quote waits
for staff as a testimonial.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core import signing
from django.db import transaction
from django.utils import timezone

from ..auth import Requestor
from ..conf import SupportSettings
from ..core.errors import PermissionDenied, SupportErrorCode, error
from ..core.text import plain_text, sanitize_html
from ..tickets.models import (
    AuthorKind,
    Ticket,
    TicketCategory,
    TicketChannel,
    TicketMessage,
    TicketPriority,
)
from .models import Survey, SurveyKind, SurveyState, Testimonial, TestimonialState
from .tokens import read_survey_token

logger = logging.getLogger(__name__)

MAX_COMMENT = 2000
# An answer whose customer never pressed "send" becomes final after this long.
ANSWER_WINDOW = timedelta(hours=1)
OPEN_STATES = (SurveyState.SENT, SurveyState.ANSWERED)
PROMOTER_MIN = 9


def survey_for_token(token: str, *, settings: SupportSettings) -> Survey:
    """Return the survey a link names; coded errors for forged, foreign and expired links."""
    try:
        claims = read_survey_token(
            token, max_age_seconds=settings.survey_link_days * 86400 + 86400
        )
    except signing.SignatureExpired:
        raise error(
            "token", "This survey link has expired.", SupportErrorCode.EXPIRED
        ) from None
    survey = None
    if claims is not None:
        survey = (
            Survey.objects.select_related("order", "ticket")
            .filter(pk=_uuid_or_none(claims.survey_id))
            .first()
        )
    if (
        survey is None
        or claims is None
        or not claims.is_for(survey.customer_email)
        or survey.state in (SurveyState.SCHEDULED, SurveyState.CANCELLED)
    ):
        raise error(
            "token", "This survey link is not valid.", SupportErrorCode.INVALID_TOKEN
        )
    if survey.expires_at is not None and timezone.now() > survey.expires_at:
        raise error("token", "This survey link has expired.", SupportErrorCode.EXPIRED)
    return survey


def _uuid_or_none(value: str) -> str:
    """Return the UUID as text, or the nil UUID (matches no row) when it is not one."""
    import uuid

    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.UUID(int=0))


def clean_score(survey: Survey, raw: Any) -> int:
    low, high = survey.score_range
    try:
        score = int(str(raw).strip())
    except (TypeError, ValueError):
        raise error(
            "score", f"Choose a score from {low} to {high}.", SupportErrorCode.INVALID
        ) from None
    if not low <= score <= high:
        raise error(
            "score",
            f"Choose a score from {low} to {high}.",
            SupportErrorCode.OUT_OF_RANGE,
        )
    return score


def clean_comment(raw: Any) -> str:
    comment = plain_text(str(raw or ""))
    if len(comment) > MAX_COMMENT:
        raise error(
            "comment",
            f"Keep the comment under {MAX_COMMENT} characters.",
            SupportErrorCode.TOO_LONG,
        )
    return comment


def record_score(*, token: str, score: Any, settings: SupportSettings) -> Survey:
    """Record (or change) the score of an open survey; the same score again changes nothing."""
    with transaction.atomic():
        survey = _locked(survey_for_token(token, settings=settings))
        if survey.state == SurveyState.SUBMITTED:
            raise error(
                "token",
                "This survey was already answered.",
                SupportErrorCode.ALREADY_SUBMITTED,
            )
        value = clean_score(survey, score)
        if survey.score == value and survey.state == SurveyState.ANSWERED:
            return survey
        survey.score = value
        survey.state = SurveyState.ANSWERED
        survey.answered_at = timezone.now()
        survey.save(update_fields=["score", "state", "answered_at", "updated_at"])
    return survey


def submit_answer(
    *,
    token: str,
    score: Any,
    comment: Any = "",
    may_quote: bool = False,
    settings: SupportSettings,
) -> Survey:
    """Make the answer final with its score and comment; a second submission is refused."""
    with transaction.atomic():
        survey = _locked(survey_for_token(token, settings=settings))
        if survey.state not in OPEN_STATES:
            raise error(
                "token",
                "This survey was already answered.",
                SupportErrorCode.ALREADY_SUBMITTED,
            )
        value = clean_score(survey, score)
        text = clean_comment(comment)
        now = timezone.now()
        survey.score = value
        survey.comment = text
        survey.may_quote = bool(may_quote) and survey.kind == SurveyKind.NPS
        survey.answered_at = survey.answered_at or now
        _finalize(survey, settings, now)
    return survey


def _locked(survey: Survey) -> Survey:
    return (
        Survey.objects.select_for_update(of=("self",))
        .select_related("order", "ticket")
        .get(pk=survey.pk)
    )


def finalize_stale_answers(*, settings: SupportSettings, now: Any = None) -> int:
    """Scores left without "send" for an hour become final (the closed loop runs once)."""
    now = now or timezone.now()
    done = 0
    for pk in Survey.objects.filter(
        state=SurveyState.ANSWERED, answered_at__lt=now - ANSWER_WINDOW
    ).values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            survey = (
                Survey.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("order", "ticket")
                .filter(pk=pk, state=SurveyState.ANSWERED)
                .first()
            )
            if survey is not None:
                _finalize(survey, settings, now)
                done += 1
    return done


def _finalize(survey: Survey, settings: SupportSettings, now: Any) -> None:
    survey.state = SurveyState.SUBMITTED
    survey.submitted_at = now
    if is_detractor(survey, settings) and survey.follow_up_ticket_id is None:
        survey.follow_up_ticket = open_follow_up_ticket(survey, settings)
    survey.save()
    if (
        survey.kind == SurveyKind.NPS
        and survey.may_quote
        and survey.comment
        and (survey.score or 0) >= PROMOTER_MIN
    ):
        Testimonial.objects.get_or_create(
            survey=survey,
            defaults={
                "text": survey.comment,
                "author_name": _author_name(survey),
                "language_code": survey.language_code,
                "channel_slug": survey.channel_slug,
                "score": survey.score,
            },
        )


def is_detractor(survey: Survey, settings: SupportSettings) -> bool:
    if survey.score is None:
        return False
    limit = (
        settings.nps_detractor_max
        if survey.kind == SurveyKind.NPS
        else settings.csat_detractor_max
    )
    return survey.score <= limit


def _author_name(survey: Survey) -> str:
    """Name the author by first name only: never the email."""
    first = survey.order.customer_first_name if survey.order is not None else ""
    return (first or "").strip()[:50]


def open_follow_up_ticket(survey: Survey, settings: SupportSettings) -> Ticket:
    """Open the follow-up ticket of a low score: routed like any ticket, category feedback."""
    from ..tickets.notifications import notify_ticket_created
    from ..tickets.routing import route_ticket
    from ..tickets.services import next_ticket_number
    from ..tickets.sla import apply_sla

    order = survey.order or (survey.ticket.order if survey.ticket else None)
    top = survey.score_range[1]
    what = (
        "purchase survey (NPS)"
        if survey.kind == SurveyKind.NPS
        else "ticket survey (CSAT)"
    )
    about = (
        f" about ticket {survey.ticket.reference}" if survey.ticket is not None else ""
    )
    lines = [
        f"Low score in the {what}{about}: {survey.score} of {top}.",
        f"Order #{order.number}." if order is not None else "",
        f"Comment: {survey.comment}" if survey.comment else "No comment.",
    ]
    body = "\n".join(line for line in lines if line)
    html, text = sanitize_html(body)
    ticket = Ticket(
        number=next_ticket_number(),
        subject=f"Low {survey.kind.upper()} score {survey.score}/{top}"
        + (f" on order #{order.number}" if order is not None else ""),
        category=TicketCategory.FEEDBACK,
        channel=TicketChannel.WEB,
        priority=TicketPriority.HIGH,
        customer_email=survey.customer_email,
        customer_user_id=survey.customer_user_id,
        order=order,
        tags=["survey", survey.kind],
    )
    ticket.created_at = timezone.now()
    ticket.priority_rank = 2
    route_ticket(ticket, text, settings)
    apply_sla(ticket, settings)
    ticket.save(force_insert=True)
    message = TicketMessage.objects.create(
        ticket=ticket,
        author_kind=AuthorKind.SYSTEM,
        author_email="",
        body_html=html,
        body_text=text,
        channel=TicketChannel.WEB,
        is_internal=True,
    )
    notify_ticket_created(ticket, message, settings)
    logger.info("Survey %s: low score opened ticket %s", survey.pk, ticket.reference)
    return ticket


# --- testimonials


def testimonial_review(
    *,
    requestor: Requestor,
    settings: SupportSettings,
    testimonial_id: str,
    approve: bool,
) -> Testimonial:
    """Staff approve (publish) or reject a promoter's quote."""
    if not requestor.has_perm(settings.staff_permission):
        raise PermissionDenied
    with transaction.atomic():
        testimonial = (
            Testimonial.objects.select_for_update()
            .filter(pk=_uuid_or_none(str(testimonial_id)))
            .first()
        )
        if testimonial is None:
            raise error("id", "Testimonial not found.", SupportErrorCode.NOT_FOUND)
        testimonial.state = (
            TestimonialState.APPROVED if approve else TestimonialState.REJECTED
        )
        testimonial.reviewed_by = requestor.email or ""
        testimonial.reviewed_at = timezone.now()
        testimonial.save()
    return testimonial
