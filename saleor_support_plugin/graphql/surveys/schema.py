"""Survey and testimonial queries and mutations, mixed into the plugin's schema."""

from __future__ import annotations

import graphene
from django.core.exceptions import ValidationError
from graphql import GraphQLError

from ...core.errors import SupportErrorCode
from ...surveys.services import survey_for_token
from ..base import PaginationError, errors_from, paginate
from .filters import public_testimonials, testimonials_for_review
from .mutations import SupportSurveyScore, SupportSurveySubmit, SupportTestimonialReview
from .types import (
    SupportSurveyResult,
    SupportTestimonialCountableConnection,
    TestimonialStateEnum,
    is_survey_staff,
)

PAGE_ARGUMENTS = {
    "first": graphene.Int(description="Page size from the start (max 100)."),
    "last": graphene.Int(description="Page size from the end (max 100)."),
    "after": graphene.String(description="Cursor to start after."),
    "before": graphene.String(description="Cursor to end before."),
}


def _page(queryset, **arguments):
    try:
        return paginate(queryset, SupportTestimonialCountableConnection, **arguments)
    except PaginationError as exc:
        raise GraphQLError(str(exc)) from None


class SurveyQueries(graphene.ObjectType):
    support_survey = graphene.Field(
        SupportSurveyResult,
        required=True,
        token=graphene.Argument(
            graphene.String,
            required=True,
            description="The `token` of the survey link.",
        ),
        description=(
            "The survey a link names, for a storefront's survey page (anyone with the "
            "token). A forged token or one for another survey or recipient answers "
            "INVALID_TOKEN, an expired one EXPIRED, in `errors`."
        ),
    )
    support_testimonials = graphene.Field(
        SupportTestimonialCountableConnection,
        channel=graphene.String(description="Of this channel (slug)."),
        language_code=graphene.String(
            description="In this language (`de` also matches `de-AT`)."
        ),
        **PAGE_ARGUMENTS,
        description=(
            "Approved testimonials for the storefront, latest approved first (anyone). "
            "They name the author by first name only."
        ),
    )
    support_testimonials_for_review = graphene.Field(
        SupportTestimonialCountableConnection,
        state=graphene.Argument(
            TestimonialStateEnum, description="In this state (default PENDING)."
        ),
        **PAGE_ARGUMENTS,
        description=(
            "Testimonials in one review state, oldest first (staff with the support "
            "permission; others get a PERMISSION_DENIED error)."
        ),
    )

    @staticmethod
    def resolve_support_survey(_root, info, token):
        try:
            survey = survey_for_token(token, settings=info.context.settings)
        except ValidationError as exc:
            return SupportSurveyResult(survey=None, errors=errors_from(exc))
        return SupportSurveyResult(survey=survey, errors=[])

    @staticmethod
    def resolve_support_testimonials(
        _root, _info, channel=None, language_code=None, **page
    ):
        return _page(
            public_testimonials(channel=channel, language_code=language_code), **page
        )

    @staticmethod
    def resolve_support_testimonials_for_review(_root, info, state=None, **page):
        if not is_survey_staff(info.context):
            raise GraphQLError(
                "Reviewing testimonials is for staff with the support permission.",
                extensions={"code": SupportErrorCode.PERMISSION_DENIED.name},
            )
        return _page(testimonials_for_review(state), **page)


class SurveyMutations(graphene.ObjectType):
    support_survey_score = SupportSurveyScore.Field(
        description=SupportSurveyScore._meta.description
    )
    support_survey_submit = SupportSurveySubmit.Field(
        description=SupportSurveySubmit._meta.description
    )
    support_testimonial_review = SupportTestimonialReview.Field(
        description=SupportTestimonialReview._meta.description
    )
