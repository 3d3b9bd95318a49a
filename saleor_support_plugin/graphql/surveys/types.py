"""Surveys and testimonials as the API shows them.

The holder of a survey link sees the survey it names; staff see every answer
on tickets and orders. Testimonials are public once approved, and never name
the customer beyond the first name.
"""

from __future__ import annotations

import graphene

from ...notifications.identity import store_name
from ...surveys import wording
from ...surveys.models import (
    Survey,
    SurveyKind,
    SurveyState,
    Testimonial,
    TestimonialState,
)
from ..base import CountableConnection, SupportError, described_enum, global_id
from ..context import SupportContext

SurveyKindEnum = described_enum(
    "SupportSurveyKind",
    {
        SurveyKind.NPS: "Net Promoter Score: 0–10, after a purchase.",
        SurveyKind.CSAT: "Customer satisfaction: 1–5, after a ticket was solved.",
    },
    "Which survey it is.",
)
SurveyStateEnum = described_enum(
    "SupportSurveyState",
    {
        SurveyState.SCHEDULED: "Owed, not sent yet (staff only see it).",
        SurveyState.SENT: "Sent; not answered yet.",
        SurveyState.ANSWERED: (
            "A score was recorded; it may still change and get a comment until the "
            "customer submits (a low score opens its follow-up after an hour either way)."
        ),
        SurveyState.SUBMITTED: "The customer submitted the answer: final.",
        SurveyState.CANCELLED: "Not sent; staff see why (staff only see it).",
    },
    "Where a survey is in its life.",
)
TestimonialStateEnum = described_enum(
    "SupportTestimonialState",
    {
        TestimonialState.PENDING: "Waiting for staff; not public.",
        TestimonialState.APPROVED: "Approved: listed publicly.",
        TestimonialState.REJECTED: "Rejected: never public.",
    },
    "Where a testimonial is in its review.",
)


def is_survey_staff(context: SupportContext) -> bool:
    """Staff with the support permission: they see every survey answer."""
    return context.requestor.has_perm(context.settings.staff_permission)


def _ticket_type() -> type[graphene.ObjectType]:
    # The ticket shows its surveys, a survey its follow-up ticket: imported when the schema is built.
    from ..tickets import SupportTicket

    return SupportTicket


class SupportSurveyOrder(graphene.ObjectType):
    number = graphene.String(required=True, description="Order number.")

    class Meta:
        description = "The order a survey is about (only what the survey names)."


class SupportSurveyTicket(graphene.ObjectType):
    reference = graphene.String(
        required=True, description="The ticket as people say it, `T-<number>`."
    )
    subject = graphene.String(required=True, description="Subject line.")

    class Meta:
        description = "The ticket a CSAT survey is about (only what the survey names)."


class SupportSurvey(graphene.ObjectType):
    id = graphene.ID(required=True, description="Global ID (`SupportSurvey:<uuid>`).")
    kind = graphene.Field(SurveyKindEnum, required=True, description="NPS or CSAT.")
    state = graphene.Field(
        SurveyStateEnum, required=True, description="Where the survey is."
    )
    question = graphene.String(
        required=True,
        description="The question, in the survey's language (the merchant's wording if set).",
    )
    language_code = graphene.String(
        required=True, description="The survey's language (the order's)."
    )
    score_min = graphene.Int(required=True, description="Lowest score (NPS 0, CSAT 1).")
    score_max = graphene.Int(
        required=True, description="Highest score (NPS 10, CSAT 5)."
    )
    low_label = graphene.String(
        required=True,
        description="What the lowest score means, in the survey's language.",
    )
    high_label = graphene.String(
        required=True,
        description="What the highest score means, in the survey's language.",
    )
    score = graphene.Int(description="The score given; null until answered.")
    comment = graphene.String(
        description="The customer's comment, as plain text; null when none."
    )
    may_quote = graphene.Boolean(
        required=True, description="The customer allowed quoting the comment."
    )
    can_quote = graphene.Boolean(
        required=True,
        description=(
            'Whether to offer "you may quote me": NPS surveys only. A quote becomes a '
            "testimonial for scores of 9 or 10 with a comment, once staff approve it."
        ),
    )
    sent_at = graphene.DateTime(description="When the survey email went out.")
    answered_at = graphene.DateTime(description="When the score was recorded.")
    submitted_at = graphene.DateTime(description="When the answer became final.")
    expires_at = graphene.DateTime(description="Until when the survey can be answered.")
    order = graphene.Field(SupportSurveyOrder, description="The order it is about.")
    ticket = graphene.Field(
        SupportSurveyTicket, description="The ticket a CSAT survey is about."
    )
    follow_up_ticket = graphene.Field(
        _ticket_type,
        description="The ticket a low score opened (staff only).",
    )
    reason = graphene.String(
        description="Why it was cancelled or still waits (staff only); null when none."
    )

    class Meta:
        description = "A satisfaction survey and its answer."

    @staticmethod
    def resolve_id(root: Survey, _info):
        return global_id("SupportSurvey", root.pk)

    @staticmethod
    def resolve_question(root: Survey, info):
        settings = info.context.settings
        return wording.question(
            root.kind, root.language_code, settings, store_name(settings)
        )

    @staticmethod
    def resolve_score_min(root: Survey, _info):
        return root.score_range[0]

    @staticmethod
    def resolve_score_max(root: Survey, _info):
        return root.score_range[1]

    @staticmethod
    def resolve_low_label(root: Survey, _info):
        return wording.scale_ends(root.kind, root.language_code)[0]

    @staticmethod
    def resolve_high_label(root: Survey, _info):
        return wording.scale_ends(root.kind, root.language_code)[1]

    @staticmethod
    def resolve_comment(root: Survey, _info):
        return root.comment or None

    @staticmethod
    def resolve_can_quote(root: Survey, _info):
        return root.kind == SurveyKind.NPS

    @staticmethod
    def resolve_order(root: Survey, _info):
        order = root.order or (root.ticket.order if root.ticket else None)
        return SupportSurveyOrder(number=order.number) if order is not None else None

    @staticmethod
    def resolve_ticket(root: Survey, _info):
        ticket = root.ticket
        if ticket is None:
            return None
        return SupportSurveyTicket(reference=ticket.reference, subject=ticket.subject)

    @staticmethod
    def resolve_follow_up_ticket(root: Survey, info):
        if root.follow_up_ticket_id is None or not is_survey_staff(info.context):
            return None
        return root.follow_up_ticket

    @staticmethod
    def resolve_reason(root: Survey, info):
        if not is_survey_staff(info.context):
            return None
        return root.reason or None


class SupportSurveyResult(graphene.ObjectType):
    survey = graphene.Field(
        SupportSurvey, description="The survey the token names; null on errors."
    )
    errors = graphene.List(
        graphene.NonNull(SupportError),
        required=True,
        description="Why the token opens no survey (INVALID_TOKEN, EXPIRED); empty on success.",
    )

    class Meta:
        description = "The survey a link's token names, or why it opens none."


class SupportTestimonial(graphene.ObjectType):
    id = graphene.ID(
        required=True, description="Global ID (`SupportTestimonial:<uuid>`)."
    )
    text = graphene.String(required=True, description="The customer's words.")
    author_name = graphene.String(
        description="The author's first name; null when unknown. Never the email."
    )
    score = graphene.Int(required=True, description="The NPS score they gave (9–10).")
    language_code = graphene.String(required=True, description="Language of the text.")
    channel = graphene.String(
        required=True, description="Slug of the channel the order was placed in."
    )
    created_at = graphene.DateTime(required=True, description="When it was written.")
    state = graphene.Field(
        TestimonialStateEnum, description="Review state (staff only)."
    )
    reviewed_at = graphene.DateTime(
        description="When staff approved or rejected it (staff only)."
    )
    reviewed_by = graphene.String(
        description="Email of the staff member who reviewed it (staff only)."
    )
    survey = graphene.Field(
        SupportSurvey, description="The survey answer it comes from (staff only)."
    )

    class Meta:
        description = "A promoter's comment they allowed the shop to quote."

    @staticmethod
    def resolve_id(root: Testimonial, _info):
        return global_id("SupportTestimonial", root.pk)

    @staticmethod
    def resolve_author_name(root: Testimonial, _info):
        return root.author_name or None

    @staticmethod
    def resolve_channel(root: Testimonial, _info):
        return root.channel_slug

    @staticmethod
    def resolve_state(root: Testimonial, info):
        return root.state if is_survey_staff(info.context) else None

    @staticmethod
    def resolve_reviewed_at(root: Testimonial, info):
        return root.reviewed_at if is_survey_staff(info.context) else None

    @staticmethod
    def resolve_reviewed_by(root: Testimonial, info):
        if not is_survey_staff(info.context):
            return None
        return root.reviewed_by or None

    @staticmethod
    def resolve_survey(root: Testimonial, info):
        return root.survey if is_survey_staff(info.context) else None


class SupportTestimonialCountableConnection(CountableConnection):
    class Meta:
        node = SupportTestimonial
        description = "A page of testimonials."
