"""Recording answers: a one-click score, the customer's comment, the closed loop.

A score is recorded by the survey page's POST (never by the GET a mail scanner
prefetches) and may be changed, and commented on, until the customer submits
(or the link expires); submitting makes the answer final. The loop closes on
submitting, or after an hour of silence after the score (most customers click
and leave): a low score opens one follow-up ticket, and an answer the customer
changes or comments on later is added to that ticket as a note. A promoter's
comment they allow us to quote waits for staff as a testimonial.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.core import signing
from django.db import transaction
from django.db.models import F, Q
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
# A score whose customer never pressed "send" closes the loop after this long.
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
        if survey.answered_at is None or survey.score != value:
            # The answer counts in the statistics from when its score was given.
            survey.answered_at = now
        survey.score = value
        survey.comment = text
        survey.may_quote = bool(may_quote) and survey.kind == SurveyKind.NPS
        survey.state = SurveyState.SUBMITTED
        survey.submitted_at = now
        _close_loop(survey, settings, now)
    return survey


def _locked(survey: Survey) -> Survey:
    return (
        Survey.objects.select_for_update(of=("self",))
        .select_related("order", "ticket")
        .get(pk=survey.pk)
    )


def close_idle_answers(*, settings: SupportSettings, now: Any = None) -> int:
    """Close the loop of scores left without "send" for an hour (again after a change)."""
    now = now or timezone.now()
    idle = Q(state=SurveyState.ANSWERED, answered_at__lt=now - ANSWER_WINDOW) & (
        Q(loop_closed_at__isnull=True) | Q(loop_closed_at__lt=F("answered_at"))
    )
    done = 0
    for pk in Survey.objects.filter(idle).values_list("pk", flat=True)[:1000]:
        with transaction.atomic():
            survey = (
                Survey.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("order", "ticket")
                .filter(idle, pk=pk)
                .first()
            )
            if survey is not None:
                _close_loop(survey, settings, now)
                done += 1
    return done


def _close_loop(survey: Survey, settings: SupportSettings, now: Any) -> None:
    """Open the follow-up of a low score once; tell it what changed since."""
    if survey.follow_up_ticket_id is not None:
        # Both set: a follow-up is opened by a scored answer closing its loop.
        assert survey.loop_closed_at is not None
        assert survey.answered_at is not None
        if survey.answered_at > survey.loop_closed_at or survey.comment:
            _note_on_follow_up(survey)
    elif is_detractor(survey, settings):
        survey.follow_up_ticket = open_follow_up_ticket(survey, settings)
    survey.loop_closed_at = now
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


def _note_on_follow_up(survey: Survey) -> None:
    """Add the customer's later answer to the follow-up ticket, for staff."""
    ticket = survey.follow_up_ticket
    assert ticket is not None
    lines = [
        f"The customer updated the survey answer: {survey.score} of {survey.score_range[1]}.",
        f"Comment: {survey.comment}" if survey.comment else "No comment.",
    ]
    html, text = sanitize_html("\n".join(lines))
    TicketMessage.objects.create(
        ticket=ticket,
        author_kind=AuthorKind.SYSTEM,
        author_email="",
        body_html=html,
        body_text=text,
        channel=TicketChannel.WEB,
        is_internal=True,
    )
    Ticket.objects.filter(pk=ticket.pk).update(updated_at=timezone.now())


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


FOLLOW_UP_SUBJECTS = {
    "en": ("Your feedback on order #{order}", "Your feedback on ticket {ticket}"),
    "de": ("Ihr Feedback zu Bestellung #{order}", "Ihr Feedback zu Ticket {ticket}"),
}


def follow_up_subject(survey: Survey, order: Any) -> str:
    """Return the follow-up ticket's subject in the survey's language (en fallback)."""
    on_order, on_ticket = FOLLOW_UP_SUBJECTS.get(
        survey.language_code, FOLLOW_UP_SUBJECTS["en"]
    )
    if survey.ticket is not None:
        return on_ticket.format(ticket=survey.ticket.reference)
    if order is not None:
        return on_order.format(order=order.number)
    return {"de": "Ihr Feedback"}.get(survey.language_code, "Your feedback")


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
        # The customer sees this subject (their ticket list, staff replies'
        # "Re:"): it names what the feedback is about, never their score.
        subject=follow_up_subject(survey, order),
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
