"""Survey mutations: a storefront's answer by token, staff review of testimonials."""

from __future__ import annotations

import graphene

from ...surveys import services
from ...surveys.models import Testimonial
from ..base import decode_id
from ..tickets import SupportMutation
from .types import SupportSurvey, SupportTestimonial


class SupportSurveyScore(SupportMutation):
    survey = graphene.Field(SupportSurvey, description="The survey with its score.")

    class Arguments:
        token = graphene.String(
            required=True, description="The `token` of the survey link."
        )
        score = graphene.Int(
            required=True, description="The score (NPS 0–10, CSAT 1–5)."
        )

    class Meta:
        description = (
            "Record or change the score of a survey, not final yet: what a click in the "
            "survey email does (a storefront's landing page calls it on the customer's "
            "action, never on page load by a link scanner). The same score again "
            "changes nothing. Anyone with the link's token."
        )

    @classmethod
    def perform(cls, info, token, score):
        survey = services.record_score(
            token=token, score=score, settings=info.context.settings
        )
        return {"survey": survey}


class SupportSurveySubmit(SupportMutation):
    survey = graphene.Field(SupportSurvey, description="The answered survey.")

    class Arguments:
        token = graphene.String(
            required=True, description="The `token` of the survey link."
        )
        score = graphene.Int(
            required=True, description="The score (NPS 0–10, CSAT 1–5)."
        )
        comment = graphene.String(
            description="Anything to add, as plain text (max 2,000 characters; markup is removed)."
        )
        may_quote = graphene.Boolean(
            description=(
                "The shop may quote the comment (NPS only): scores of 9–10 with a "
                "comment become a testimonial staff approve."
            )
        )

    class Meta:
        description = (
            "Submit the final answer of a survey: its score and comment. Once only; a "
            "low score opens a follow-up ticket. Anyone with the link's token."
        )

    @classmethod
    def perform(cls, info, token, score, comment=None, may_quote=None):
        survey = services.submit_answer(
            token=token,
            score=score,
            comment=comment or "",
            may_quote=bool(may_quote),
            settings=info.context.settings,
        )
        return {"survey": survey}


class SupportTestimonialReview(SupportMutation):
    testimonial = graphene.Field(
        SupportTestimonial, description="The reviewed testimonial."
    )

    class Arguments:
        id = graphene.ID(required=True, description="Testimonial ID.")
        approve = graphene.Boolean(
            required=True,
            description="True publishes it; false rejects it (never public).",
        )

    class Meta:
        description = "Approve (publish) or reject a promoter's testimonial (staff)."

    @classmethod
    def perform(cls, info, id, approve):
        testimonial = services.testimonial_review(
            requestor=info.context.requestor,
            settings=info.context.settings,
            # A malformed ID reaches the service as "", answered NOT_FOUND like a missing one.
            testimonial_id=decode_id(id, "SupportTestimonial") or "",
            approve=approve,
        )
        return {
            "testimonial": Testimonial.objects.select_related(
                "survey__order", "survey__ticket__order"
            ).get(pk=testimonial.pk)
        }
