"""The survey API: answering by token with every misuse, the closed loop, testimonials, staff views."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from graphql_relay import to_global_id

from saleor_support_plugin.surveys import models as surveys
from saleor_support_plugin.surveys.models import Survey, SurveyKind, SurveyState
from saleor_support_plugin.surveys.tokens import SALT, make_survey_token
from saleor_support_plugin.tickets.guest import make_guest_token
from saleor_support_plugin.tickets.models import Ticket, TicketCategory

from .factories import OrderSnapshotFactory, TicketFactory
from .fixtures.graphql import get_graphql_content

SURVEY_FIELDS = """
  id kind state question languageCode scoreMin scoreMax lowLabel highLabel score comment
  mayQuote canQuote answeredAt submittedAt expiresAt
  order { number } ticket { reference subject } followUpTicket { reference }
"""

QUERY_SURVEY = f"""
query survey($token: String!) {{
  supportSurvey(token: $token) {{
    survey {{ {SURVEY_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

MUTATION_SUBMIT = f"""
mutation submit($token: String!, $score: Int!, $comment: String, $mayQuote: Boolean) {{
  supportSurveySubmit(token: $token, score: $score, comment: $comment, mayQuote: $mayQuote) {{
    survey {{ {SURVEY_FIELDS} }}
    errors {{ field code message }}
  }}
}}
"""

MUTATION_SCORE = """
mutation score($token: String!, $score: Int!) {
  supportSurveyScore(token: $token, score: $score) {
    survey { state score answeredAt submittedAt }
    errors { field code message }
  }
}
"""

QUERY_TESTIMONIALS = """
query testimonials($channel: String, $languageCode: String) {
  supportTestimonials(channel: $channel, languageCode: $languageCode, first: 10) {
    totalCount
    edges { node {
      id text authorName score languageCode channel createdAt state reviewedBy survey { score }
    } }
  }
}
"""

QUERY_FOR_REVIEW = """
query review($state: SupportTestimonialState) {
  supportTestimonialsForReview(state: $state, first: 10) {
    totalCount
    edges { node { id text authorName score state reviewedBy survey { score comment order { number } } } }
  }
}
"""

MUTATION_REVIEW = """
mutation review($id: ID!, $approve: Boolean!) {
  supportTestimonialReview(id: $id, approve: $approve) {
    testimonial { text state reviewedBy reviewedAt }
    errors { field code message }
  }
}
"""

STAFF_SURVEY_FIELDS = """
  kind state score comment submittedAt followUpTicket { reference category }
"""

QUERY_TICKET_SURVEYS = f"""
query ticket($id: ID!) {{
  supportTicket(id: $id) {{
    reference category
    surveys {{ {STAFF_SURVEY_FIELDS} }}
    followUpOf {{ {STAFF_SURVEY_FIELDS} ticket {{ reference }} }}
    order {{ number surveys {{ {STAFF_SURVEY_FIELDS} }} }}
  }}
}}
"""

QUERY_TICKET_LIST = """
query list($first: Int, $surveys: Boolean!) {
  supportTickets(first: $first, sortBy: {field: NUMBER, direction: ASC}) {
    edges { node {
      reference
      order { number surveys @include(if: $surveys) { kind score followUpTicket { reference } } }
      surveys @include(if: $surveys) { kind score comment followUpTicket { reference } }
      followUpOf @include(if: $surveys) { kind score }
    } }
  }
}
"""

ALICE = "alice@example.com"


def make_survey(
    *,
    kind: str = SurveyKind.NPS,
    order=None,
    ticket=None,
    email: str = ALICE,
    user_id: str | None = None,
    state: str = SurveyState.SENT,
    language_code: str = "en",
    expires_in: timedelta = timedelta(days=30),
) -> tuple[Survey, str]:
    """Create a survey as sending leaves it; return it and its email links' token."""
    now = timezone.now()
    survey = Survey.objects.create(
        kind=kind,
        order=order,
        ticket=ticket,
        customer_email=email,
        customer_user_id=user_id,
        channel_slug="default-channel",
        language_code=language_code,
        trigger="delivered" if kind == SurveyKind.NPS else "ticket solved",
        triggered_at=now - timedelta(days=7),
        due_at=now - timedelta(hours=1),
        sent_at=None if state == SurveyState.SCHEDULED else now - timedelta(hours=1),
        expires_at=now + expires_in,
        state=state,
    )
    return survey, make_survey_token(str(survey.pk), email)


def survey_of(client, token: str) -> dict:
    content = get_graphql_content(client.post_graphql(QUERY_SURVEY, {"token": token}))
    return content["data"]["supportSurvey"]


def submit(client, token: str, score: int, **extra) -> dict:
    content = get_graphql_content(
        client.post_graphql(MUTATION_SUBMIT, {"token": token, "score": score, **extra})
    )
    return content["data"]["supportSurveySubmit"]


def codes(payload: dict) -> list[tuple[str | None, str]]:
    return [(error["field"], error["code"]) for error in payload["errors"]]


def answer_of(survey: Survey) -> tuple:
    survey.refresh_from_db()
    return (
        survey.state,
        survey.score,
        survey.comment,
        survey.may_quote,
        survey.answered_at,
        survey.submitted_at,
        survey.follow_up_ticket_id,
    )


@pytest.fixture
def order(db, customer_user):
    return OrderSnapshotFactory.create(
        user_id=str(customer_user.pk),
        customer_email=ALICE,
        customer_first_name="Alice",
        number="1042",
        language_code="de",
    )


@pytest.fixture
def solved_ticket(order, customer_user):
    return TicketFactory.create(
        order=order,
        customer_email=ALICE,
        customer_user_id=str(customer_user.pk),
        subject="Where is my parcel?",
        status="solved",
        number=4711,
    )


def test_survey_is_read_by_token_in_its_language(api_client, support_config, order):
    # given an NPS survey of a German order, sent
    survey, token = make_survey(order=order, language_code="de")
    # when anyone with the link's token reads it
    payload = survey_of(api_client, token)
    # then the survey is answered in German, with its scale and order
    assert payload["errors"] == []
    data = payload["survey"]
    assert data["id"] == to_global_id("SupportSurvey", str(survey.pk))
    assert data["kind"] == "NPS"
    assert data["state"] == "SENT"
    assert data["question"] == (
        "Wie wahrscheinlich ist es, dass Sie Acme Support Freunden oder Kollegen "
        "empfehlen?"
    )
    assert data["languageCode"] == "de"
    assert (data["scoreMin"], data["scoreMax"]) == (0, 10)
    assert data["lowLabel"] == "Überhaupt nicht wahrscheinlich"
    assert data["highLabel"] == "Äußerst wahrscheinlich"
    assert (data["score"], data["comment"], data["mayQuote"]) == (None, None, False)
    assert data["canQuote"] is True
    assert data["answeredAt"] is None
    assert data["submittedAt"] is None
    assert data["expiresAt"] is not None
    assert data["order"] == {"number": "1042"}
    assert data["ticket"] is None
    assert data["followUpTicket"] is None


def test_csat_survey_names_its_ticket_and_order(
    api_client, support_config, solved_ticket
):
    # given the CSAT survey of a solved ticket about an order
    _, token = make_survey(kind=SurveyKind.CSAT, ticket=solved_ticket)
    # when it is read by token
    data = survey_of(api_client, token)["survey"]
    # then it names the ticket (reference and subject only) and the ticket's order
    assert data["kind"] == "CSAT"
    assert (
        data["question"]
        == "How satisfied are you with the help you got from Acme Support?"
    )
    assert (data["scoreMin"], data["scoreMax"]) == (1, 5)
    assert (data["lowLabel"], data["highLabel"]) == (
        "Very dissatisfied",
        "Very satisfied",
    )
    assert data["canQuote"] is False
    assert data["ticket"] == {"reference": "T-4711", "subject": "Where is my parcel?"}
    assert data["order"] == {"number": "1042"}


def test_submit_records_the_final_answer(api_client, support_config, order):
    # given a sent NPS survey
    survey, token = make_survey(order=order)
    # when the customer submits a score and a comment
    payload = submit(api_client, token, 8, comment="Quick delivery.")
    # then the answer is final, and nothing else happened for a passive score
    assert payload["errors"] == []
    data = payload["survey"]
    assert (data["state"], data["score"], data["comment"]) == (
        "SUBMITTED",
        8,
        "Quick delivery.",
    )
    assert data["answeredAt"] is not None
    assert data["submittedAt"] is not None
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.comment) == (
        SurveyState.SUBMITTED,
        8,
        "Quick delivery.",
    )
    assert survey.follow_up_ticket_id is None
    assert not surveys.Testimonial.objects.exists()


def test_second_submit_is_refused_and_changes_nothing(
    api_client, support_config, order
):
    # given a survey already submitted
    survey, token = make_survey(order=order)
    assert submit(api_client, token, 8, comment="Fine.")["errors"] == []
    before = answer_of(survey)
    # when it is submitted again, and a score is recorded again
    again = submit(api_client, token, 2, comment="Changed my mind.")
    content = get_graphql_content(
        api_client.post_graphql(MUTATION_SCORE, {"token": token, "score": 3})
    )
    # then both are refused and the answer stays as it was
    assert codes(again) == [("token", "ALREADY_SUBMITTED")]
    assert again["survey"] is None
    assert codes(content["data"]["supportSurveyScore"]) == [
        ("token", "ALREADY_SUBMITTED")
    ]
    assert answer_of(survey) == before
    assert not Ticket.objects.filter(category=TicketCategory.FEEDBACK).exists()


def _tampered(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


@pytest.mark.parametrize(
    "forge",
    [
        lambda token, survey: "not-a-token",
        lambda token, survey: "",
        lambda token, survey: _tampered(token),
        # The right claims, signed with a key other than the shop's.
        lambda token, survey: signing.dumps(
            {"s": str(survey.pk), "e": ALICE}, salt=SALT, key="not-the-shop-key"
        ),
        # Signed by the plugin, for another purpose: a guest token of the same customer.
        lambda token, survey: make_guest_token(str(uuid.uuid4()), ALICE),
    ],
    ids=["garbage", "empty", "tampered-signature", "other-key", "guest-token"],
)
def test_forged_tokens_are_invalid(api_client, support_config, order, forge):
    # given a sent survey and a token that is not its link
    survey, token = make_survey(order=order)
    before = answer_of(survey)
    forged = forge(token, survey)
    # when the forged token is read and submitted
    read = survey_of(api_client, forged)
    answer = submit(api_client, forged, 10)
    # then both answer INVALID_TOKEN and nothing changed
    assert read["survey"] is None
    assert codes(read) == [("token", "INVALID_TOKEN")]
    assert codes(answer) == [("token", "INVALID_TOKEN")]
    assert answer_of(survey) == before


@pytest.mark.parametrize(
    "case", ["unknown-survey", "other-recipient", "scheduled", "cancelled"]
)
def test_token_for_another_survey_or_recipient_is_invalid(
    api_client, support_config, order, case
):
    # given a sent survey of Alice's and a genuine token that does not open it
    survey, _ = make_survey(order=order)
    other_order = OrderSnapshotFactory.create(customer_email="bob@example.com")
    bob_survey, bob_token = make_survey(order=other_order, email="bob@example.com")
    tokens = {
        "unknown-survey": make_survey_token(str(uuid.uuid4()), ALICE),
        # Alice's survey, signed for Bob: links are per recipient.
        "other-recipient": make_survey_token(str(survey.pk), "bob@example.com"),
    }
    if case in ("scheduled", "cancelled"):
        # A survey not sent (or never to be) opens no link, even with a right token.
        Survey.objects.filter(pk=survey.pk).update(state=case)
        tokens[case] = make_survey_token(str(survey.pk), ALICE)
    before, bob_before = answer_of(survey), answer_of(bob_survey)
    # when that token is read and submitted
    read = survey_of(api_client, tokens[case])
    answer = submit(api_client, tokens[case], 0)
    # then INVALID_TOKEN, and neither survey changed
    assert codes(read) == [("token", "INVALID_TOKEN")]
    assert read["survey"] is None
    assert codes(answer) == [("token", "INVALID_TOKEN")]
    assert (answer_of(survey), answer_of(bob_survey)) == (before, bob_before)
    assert survey_of(api_client, bob_token)["errors"] == []


@pytest.mark.parametrize(
    "later",
    # Past the survey's own end; past the link's signature age (31 days) as well.
    [timedelta(days=2, hours=1), timedelta(days=40)],
    ids=["survey-expired", "signature-expired"],
)
def test_expired_survey_answers_expired(api_client, support_config, order, later):
    # given a survey open for two more days
    survey, token = make_survey(order=order, expires_in=timedelta(days=2))
    before = answer_of(survey)
    # when its link is used after that
    with time_machine.travel(timezone.now() + later, tick=False):
        read = survey_of(api_client, token)
        answer = submit(api_client, token, 9, comment="Late.")
        score = get_graphql_content(
            api_client.post_graphql(MUTATION_SCORE, {"token": token, "score": 9})
        )["data"]["supportSurveyScore"]
    # then EXPIRED (not INVALID_TOKEN), and nothing changed
    assert codes(read) == [("token", "EXPIRED")]
    assert read["survey"] is None
    assert codes(answer) == [("token", "EXPIRED")]
    assert codes(score) == [("token", "EXPIRED")]
    assert answer_of(survey) == before


@pytest.mark.parametrize(
    ("kind", "score"),
    [
        (SurveyKind.NPS, 11),
        (SurveyKind.NPS, -1),
        (SurveyKind.CSAT, 0),
        (SurveyKind.CSAT, 6),
    ],
)
def test_score_out_of_range(
    api_client, support_config, solved_ticket, order, kind, score
):
    # given a sent survey of either kind
    if kind == SurveyKind.NPS:
        survey, token = make_survey(order=order)
    else:
        survey, token = make_survey(kind=kind, ticket=solved_ticket)
    before = answer_of(survey)
    # when a score outside its scale is submitted or recorded
    answer = submit(api_client, token, score)
    recorded = get_graphql_content(
        api_client.post_graphql(MUTATION_SCORE, {"token": token, "score": score})
    )["data"]["supportSurveyScore"]
    # then OUT_OF_RANGE on the score, nothing changed
    assert codes(answer) == [("score", "OUT_OF_RANGE")]
    assert codes(recorded) == [("score", "OUT_OF_RANGE")]
    assert answer_of(survey) == before


def test_comment_over_the_limit_is_too_long(api_client, support_config, order):
    # given a sent survey
    survey, token = make_survey(order=order)
    before = answer_of(survey)
    # when the comment is one character over 2,000
    answer = submit(api_client, token, 7, comment="x" * 2001)
    # then TOO_LONG on the comment, nothing changed; 2,000 characters are accepted
    assert codes(answer) == [("comment", "TOO_LONG")]
    assert answer_of(survey) == before
    accepted = submit(api_client, token, 7, comment="x" * 2000)
    assert accepted["errors"] == []
    assert len(accepted["survey"]["comment"]) == 2000


def test_comment_is_sanitized(api_client, support_config, order):
    # given a sent survey
    survey, token = make_survey(order=order)
    # when the comment carries markup and a script
    answer = submit(
        api_client,
        token,
        8,
        comment='<script>alert(1)</script>Great <b>shop</b> &amp; <img src=x onerror="alert(1)">fast',
    )
    # then only the words are kept, as plain text
    assert answer["errors"] == []
    assert answer["survey"]["comment"] == "Great shop & fast"
    survey.refresh_from_db()
    assert survey.comment == "Great shop & fast"


def test_one_click_score_is_recorded_changed_then_submitted(
    api_client, support_config, order
):
    # given a sent survey
    survey, token = make_survey(order=order)

    def score(value: int) -> dict:
        return get_graphql_content(
            api_client.post_graphql(MUTATION_SCORE, {"token": token, "score": value})
        )["data"]["supportSurveyScore"]

    # when a score is recorded, recorded again, then changed
    first = score(7)
    answered_at = Survey.objects.get(pk=survey.pk).answered_at
    same = score(7)
    # then the same score again changes nothing
    assert first["errors"] == []
    assert same["errors"] == []
    assert (first["survey"]["state"], first["survey"]["score"]) == ("ANSWERED", 7)
    assert first["survey"]["submittedAt"] is None
    assert Survey.objects.get(pk=survey.pk).answered_at == answered_at
    changed = score(9)
    assert changed["survey"]["score"] == 9
    # and the answer may still be submitted once, with a comment
    final = submit(api_client, token, 9, comment="Thanks!")
    assert (final["survey"]["state"], final["survey"]["comment"]) == (
        "SUBMITTED",
        "Thanks!",
    )


def test_detractor_opens_a_follow_up_ticket_staff_see_with_the_survey(
    api_client, staff_api_client, support_config, order
):
    # given a sent NPS survey of Alice's order
    survey, token = make_survey(order=order)
    # when she submits a detractor's score with a comment
    answer = submit(api_client, token, 3, comment="The box was crushed.")
    # then a feedback ticket about the order follows, hidden from the token holder
    assert answer["errors"] == []
    assert answer["survey"]["followUpTicket"] is None
    follow_up = Ticket.objects.get(category=TicketCategory.FEEDBACK)
    assert follow_up.order_id == order.pk
    assert follow_up.customer_email == ALICE
    assert Survey.objects.get(pk=survey.pk).follow_up_ticket_id == follow_up.pk
    # and staff see the survey answer on the follow-up ticket and in the order context
    content = get_graphql_content(
        staff_api_client.post_graphql(
            QUERY_TICKET_SURVEYS,
            {"id": to_global_id("SupportTicket", str(follow_up.pk))},
        )
    )
    ticket = content["data"]["supportTicket"]
    assert ticket["category"] == "FEEDBACK"
    assert ticket["surveys"] == []
    staff_view = {
        "kind": "NPS",
        "state": "SUBMITTED",
        "score": 3,
        "comment": "The box was crushed.",
        "submittedAt": ticket["followUpOf"]["submittedAt"],
        "followUpTicket": {"reference": follow_up.reference, "category": "FEEDBACK"},
    }
    assert ticket["followUpOf"] == {**staff_view, "ticket": None}
    assert ticket["followUpOf"]["submittedAt"] is not None
    assert ticket["order"] == {"number": "1042", "surveys": [staff_view]}


def test_csat_answer_is_on_its_ticket_for_staff_only(
    api_client,
    staff_api_client,
    customer_api_client,
    staff_without_permission_api_client,
    support_config,
    solved_ticket,
    customer_user,
):
    # given Alice's solved ticket and its CSAT survey, answered with a low score
    _, token = make_survey(
        kind=SurveyKind.CSAT, ticket=solved_ticket, user_id=str(customer_user.pk)
    )
    answer = submit(api_client, token, 1, comment="Nobody answered.", mayQuote=True)
    assert answer["errors"] == []
    follow_up = Ticket.objects.get(category=TicketCategory.FEEDBACK)

    def ticket_as(client, ticket) -> Any:
        content = get_graphql_content(
            client.post_graphql(
                QUERY_TICKET_SURVEYS,
                {"id": to_global_id("SupportTicket", str(ticket.pk))},
            )
        )
        return content["data"]["supportTicket"]

    # when staff read the ticket
    staff = ticket_as(staff_api_client, solved_ticket)
    # then they see its CSAT answer and its follow-up ticket, also on the order
    csat = {
        "kind": "CSAT",
        "state": "SUBMITTED",
        "score": 1,
        "comment": "Nobody answered.",
        "submittedAt": staff["surveys"][0]["submittedAt"],
        "followUpTicket": {"reference": follow_up.reference, "category": "FEEDBACK"},
    }
    assert staff["surveys"] == [csat]
    assert staff["followUpOf"] is None
    assert staff["order"]["surveys"] == [csat]
    assert Survey.objects.get().may_quote is False  # CSAT answers are never quoted
    # and Alice, on her own tickets, sees none of it
    for ticket in (solved_ticket, follow_up):
        mine = ticket_as(customer_api_client, ticket)
        assert mine is not None
        assert mine["surveys"] == []
        assert mine["followUpOf"] is None
        assert mine["order"]["surveys"] == []
    # and staff without the support permission see no ticket at all
    assert ticket_as(staff_without_permission_api_client, solved_ticket) is None


def test_promoter_quote_is_public_only_after_staff_approve(
    api_client, staff_api_client, customer_api_client, support_config, order
):
    # given a promoter who lets the shop quote them
    _, token = make_survey(order=order, language_code="de")
    answer = submit(api_client, token, 10, comment="Super Laden!", mayQuote=True)
    assert answer["errors"] == []
    assert answer["survey"]["mayQuote"] is True
    testimonial = surveys.Testimonial.objects.get()
    assert testimonial.state == surveys.TestimonialState.PENDING

    def public(client=api_client, **variables) -> dict:
        content = get_graphql_content(
            client.post_graphql(QUERY_TESTIMONIALS, variables or None)
        )
        return content["data"]["supportTestimonials"]

    # then it is not public while pending
    assert public()["totalCount"] == 0
    # when staff find it in the review queue and approve it
    queue = get_graphql_content(staff_api_client.post_graphql(QUERY_FOR_REVIEW))
    node = queue["data"]["supportTestimonialsForReview"]["edges"][0]["node"]
    assert node["state"] == "PENDING"
    assert node["survey"] == {
        "score": 10,
        "comment": "Super Laden!",
        "order": {"number": "1042"},
    }
    review = get_graphql_content(
        staff_api_client.post_graphql(
            MUTATION_REVIEW, {"id": node["id"], "approve": True}
        )
    )["data"]["supportTestimonialReview"]
    assert review["errors"] == []
    assert review["testimonial"]["state"] == "APPROVED"
    assert review["testimonial"]["reviewedBy"] == "staff@example.com"
    # then anyone sees it, named by first name only, never by email
    response = api_client.post_graphql(QUERY_TESTIMONIALS)
    listed = public()
    assert listed["totalCount"] == 1
    item = listed["edges"][0]["node"]
    assert item["id"] == to_global_id("SupportTestimonial", str(testimonial.pk))
    assert item["text"] == "Super Laden!"
    assert (item["authorName"], item["score"], item["languageCode"]) == (
        "Alice",
        10,
        "de",
    )
    assert item["channel"] == "default-channel"
    assert item["createdAt"] is not None
    # staff-only fields are null for the public, even for the author herself
    assert (item["state"], item["reviewedBy"], item["survey"]) == (None, None, None)
    assert public(customer_api_client)["edges"][0]["node"]["survey"] is None
    assert ALICE not in response.content.decode()
    assert "@" not in json.dumps(listed)
    assert public(staff_api_client)["edges"][0]["node"]["state"] == "APPROVED"


def test_rejected_and_pending_testimonials_are_never_listed_publicly(
    api_client, staff_api_client, support_config, order
):
    # given a promoter's quote staff reject
    _, token = make_survey(order=order)
    assert (
        submit(api_client, token, 9, comment="Lovely.", mayQuote=True)["errors"] == []
    )
    testimonial = surveys.Testimonial.objects.get()
    review = get_graphql_content(
        staff_api_client.post_graphql(
            MUTATION_REVIEW,
            {
                "id": to_global_id("SupportTestimonial", str(testimonial.pk)),
                "approve": False,
            },
        )
    )["data"]["supportTestimonialReview"]
    # when the public list and the review queues are read
    listed = get_graphql_content(api_client.post_graphql(QUERY_TESTIMONIALS))
    pending = get_graphql_content(staff_api_client.post_graphql(QUERY_FOR_REVIEW))
    rejected = get_graphql_content(
        staff_api_client.post_graphql(QUERY_FOR_REVIEW, {"state": "REJECTED"})
    )
    # then it is rejected and listed only in the staff's rejected queue
    assert review["testimonial"]["state"] == "REJECTED"
    assert listed["data"]["supportTestimonials"]["totalCount"] == 0
    assert pending["data"]["supportTestimonialsForReview"]["totalCount"] == 0
    assert rejected["data"]["supportTestimonialsForReview"]["totalCount"] == 1


def test_public_testimonials_filter_by_channel_and_language(
    db, api_client, support_config
):
    # given approved testimonials in two channels and languages, and one pending
    def testimonial(
        channel: str, language: str, state=surveys.TestimonialState.APPROVED
    ):
        order = OrderSnapshotFactory.create(
            channel_slug=channel, language_code=language
        )
        survey, _ = make_survey(order=order, email=order.customer_email)
        return surveys.Testimonial.objects.create(
            survey=survey,
            text=f"{channel} {language}",
            language_code=language,
            channel_slug=channel,
            score=10,
            state=state,
            reviewed_at=timezone.now(),
        )

    testimonial("eu", "de")
    testimonial("eu", "de-at")
    testimonial("eu", "en")
    testimonial("us", "en")
    testimonial("eu", "de", state=surveys.TestimonialState.PENDING)

    def texts(**variables) -> list[str]:
        content = get_graphql_content(
            api_client.post_graphql(QUERY_TESTIMONIALS, variables)
        )
        edges = content["data"]["supportTestimonials"]["edges"]
        return sorted(edge["node"]["text"] for edge in edges)

    # when they are filtered, then only approved ones of that channel and language are listed
    assert texts(channel="eu", languageCode="de") == ["eu de", "eu de-at"]
    assert texts(languageCode="DE_AT") == ["eu de-at"]
    assert texts(channel="us") == ["us en"]
    assert texts(channel="nowhere") == []
    assert len(texts()) == 4


@pytest.mark.parametrize(
    "caller", ["anonymous", "customer", "staff-without-permission"]
)
def test_only_staff_review_testimonials(
    api_client,
    customer_api_client,
    staff_without_permission_api_client,
    support_config,
    order,
    caller,
):
    # given a pending testimonial
    _, token = make_survey(order=order)
    assert (
        submit(api_client, token, 10, comment="Great.", mayQuote=True)["errors"] == []
    )
    testimonial = surveys.Testimonial.objects.get()
    client = {
        "anonymous": api_client,
        "customer": customer_api_client,
        "staff-without-permission": staff_without_permission_api_client,
    }[caller]
    # when someone without the support permission reviews it or reads the queue
    review = get_graphql_content(
        client.post_graphql(
            MUTATION_REVIEW,
            {
                "id": to_global_id("SupportTestimonial", str(testimonial.pk)),
                "approve": True,
            },
        )
    )["data"]["supportTestimonialReview"]
    queue = get_graphql_content(
        client.post_graphql(QUERY_FOR_REVIEW), ignore_errors=True
    )
    # then PERMISSION_DENIED, and it stays pending and private
    assert codes(review) == [(None, "PERMISSION_DENIED")]
    assert review["testimonial"] is None
    assert queue["data"]["supportTestimonialsForReview"] is None
    assert [error["extensions"]["code"] for error in queue["errors"]] == [
        "PERMISSION_DENIED"
    ]
    testimonial.refresh_from_db()
    assert (testimonial.state, testimonial.reviewed_by) == (
        surveys.TestimonialState.PENDING,
        "",
    )


@pytest.mark.parametrize(
    "testimonial_id",
    [
        to_global_id("SupportTestimonial", str(uuid.uuid4())),
        to_global_id("SupportTestimonial", "not-a-uuid"),
        to_global_id("SupportTicket", str(uuid.uuid4())),
        "garbage",
    ],
    ids=["missing", "malformed-pk", "other-type", "garbage"],
)
def test_review_of_an_unknown_testimonial_is_not_found(
    staff_api_client, support_config, testimonial_id
):
    review = get_graphql_content(
        staff_api_client.post_graphql(
            MUTATION_REVIEW, {"id": testimonial_id, "approve": True}
        )
    )["data"]["supportTestimonialReview"]
    assert codes(review) == [("id", "NOT_FOUND")]


def test_ticket_list_reads_surveys_in_a_constant_number_of_queries(
    staff_api_client, support_config
):
    # given tickets with orders, each order with an NPS and each ticket a CSAT that
    # opened a follow-up ticket
    for index in range(8):
        order = OrderSnapshotFactory.create(number=str(8000 + index))
        ticket = TicketFactory.create(order=order, number=100 + index, status="solved")
        follow_up = TicketFactory.create(
            order=order, number=500 + index, category=TicketCategory.FEEDBACK
        )
        make_survey(order=order, email=order.customer_email)
        csat, _ = make_survey(
            kind=SurveyKind.CSAT, ticket=ticket, email=order.customer_email
        )
        Survey.objects.filter(pk=csat.pk).update(
            state=SurveyState.SUBMITTED, score=1, follow_up_ticket=follow_up
        )

    def run(page_size: int, surveys: bool) -> tuple[dict, int]:
        with CaptureQueriesContext(connection) as queries:
            content = get_graphql_content(
                staff_api_client.post_graphql(
                    QUERY_TICKET_LIST, {"first": page_size, "surveys": surveys}
                )
            )
        return content, len(queries.captured_queries)

    # when pages of 2 and of 8 tickets are listed with their surveys, and without
    small, small_queries = run(2, True)
    large, large_queries = run(8, True)
    _, plain_queries = run(8, False)
    # then the surveys cost three queries (tickets', follow-ups', orders'), whatever the page
    assert small_queries == large_queries == plain_queries + 3
    nodes = [edge["node"] for edge in large["data"]["supportTickets"]["edges"]]
    assert len(nodes) == 8
    first = nodes[0]
    assert first["reference"] == "T-100"
    assert first["surveys"] == [
        {
            "kind": "CSAT",
            "score": 1,
            "comment": None,
            "followUpTicket": {"reference": "T-500"},
        }
    ]
    assert first["followUpOf"] is None
    assert sorted(s["kind"] for s in first["order"]["surveys"]) == ["CSAT", "NPS"]


def test_follow_up_ticket_list_shows_the_survey_that_opened_it(
    staff_api_client, support_config
):
    # given a follow-up ticket opened by a CSAT answer
    order = OrderSnapshotFactory.create(number="9000")
    ticket = TicketFactory.create(order=order, number=100)
    follow_up = TicketFactory.create(number=101, category=TicketCategory.FEEDBACK)
    csat, _ = make_survey(
        kind=SurveyKind.CSAT, ticket=ticket, email=order.customer_email
    )
    Survey.objects.filter(pk=csat.pk).update(
        state=SurveyState.SUBMITTED, score=2, follow_up_ticket=follow_up
    )
    # when staff list the tickets
    content = get_graphql_content(
        staff_api_client.post_graphql(QUERY_TICKET_LIST, {"first": 5, "surveys": True})
    )
    # then the follow-up names the survey that opened it
    nodes = [edge["node"] for edge in content["data"]["supportTickets"]["edges"]]
    assert nodes[1]["reference"] == "T-101"
    assert nodes[1]["followUpOf"] == {"kind": "CSAT", "score": 2}
    assert nodes[1]["surveys"] == []
    assert nodes[1]["order"] is None
