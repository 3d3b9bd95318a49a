"""The survey page the one-click links open: GET shows, the landing page's POST records."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode

import pytest
import time_machine
from django.utils import timezone

from saleor_support_plugin.notifications.unsubscribe import make_token
from saleor_support_plugin.surveys import models as survey_models
from saleor_support_plugin.surveys.models import Survey, SurveyKind, SurveyState
from saleor_support_plugin.surveys.tokens import make_survey_token
from saleor_support_plugin.tickets.models import Ticket

from .fixtures.browser import SURVEY_URL, sent_survey, survey_link, survey_token

FORM = "application/x-www-form-urlencoded"


def post(client, data: dict[str, Any], **headers: str):
    """POST the page's form the way a browser does (urlencoded)."""
    return client.post(SURVEY_URL, urlencode(data), content_type=FORM, **headers)


def row(survey: Survey) -> dict[str, Any]:
    return dict(Survey.objects.filter(pk=survey.pk).values().get())


class _Markup(HTMLParser):
    """The page's form controls, labels, fieldsets and scripts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.controls: list[dict[str, str | None]] = []
        self.label_for: set[str] = set()
        self.tags: list[str] = []
        self.scripts: list[dict[str, str | None]] = []
        self.html_lang: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.tags.append(f"input:{values.get('type')}" if tag == "input" else tag)
        if tag == "html":
            self.html_lang = values.get("lang")
        if tag in ("input", "textarea", "select") and values.get("type") != "hidden":
            self.controls.append({"tag": tag, **values})
        if tag == "label" and values.get("for"):
            self.label_for.add(values["for"] or "")
        if tag == "script":
            self.scripts.append(values)

    def checked_score(self) -> str | None:
        for control in self.controls:
            if control.get("name") == "score" and "checked" in control:
                return control.get("value")
        return None


def text_of(response) -> str:
    return response.content.decode()


@pytest.fixture
def survey_settings(support_config):
    support_config(surveys_enabled=True)


def test_opening_a_link_records_nothing_and_preselects_the_score(
    db, client, survey_settings
):
    # given a survey just sent
    survey = sent_survey()
    before = row(survey)
    # when a mail scanner (or the customer) opens the link for a 9
    response = client.get(survey_link(survey, 9))
    # then the page shows the form with 9 chosen and the auto-post, and nothing is recorded
    assert response.status_code == 200
    page = _Markup(text_of(response))
    assert page.checked_score() == "9"
    assert [c["value"] for c in page.controls if c.get("name") == "score"] == [
        str(n) for n in range(11)
    ]
    (comment,) = [c for c in page.controls if c.get("name") == "comment"]
    assert comment["maxlength"] == "2000"
    assert [c["id"] for c in page.controls if c.get("type") == "checkbox"] == [
        "may_quote"
    ]
    assert len(page.scripts) == 1
    assert "How likely are you to recommend Acme Support" in text_of(response)
    assert row(survey) == before


def test_opening_the_page_link_without_a_score_posts_nothing(
    db, client, survey_settings
):
    # given a survey sent
    survey = sent_survey()
    # when the page link (no score) and a link with a score out of range are opened
    plain = client.get(survey_link(survey))
    foreign = client.get(f"{survey_link(survey)}&score=42")
    # then neither chooses a score nor posts one by itself
    for response in (plain, foreign):
        assert response.status_code == 200
        page = _Markup(text_of(response))
        assert page.checked_score() is None
        assert page.scripts == []
    assert row(survey)["state"] == SurveyState.SENT


def test_the_landing_post_records_the_score(db, client, survey_settings):
    # given a survey sent
    survey = sent_survey()
    # when the landing page posts the clicked score
    response = post(
        client, {"token": survey_token(survey), "action": "score", "score": "9"}
    )
    # then the score is recorded and the page offers the comment form with 9 chosen
    assert response.status_code == 200
    assert "We recorded your score of 9" in text_of(response)
    page = _Markup(text_of(response))
    assert page.checked_score() == "9"
    assert page.scripts == []
    survey.refresh_from_db()
    assert (survey.state, survey.score) == (SurveyState.ANSWERED, 9)
    assert survey.answered_at is not None


def test_the_same_score_twice_changes_nothing(db, client, survey_settings):
    # given a recorded score
    survey = sent_survey()
    data = {"token": survey_token(survey), "action": "score", "score": "7"}
    assert post(client, data).status_code == 200
    before = row(survey)
    # when the same score is posted again (the customer clicks the same link again)
    with time_machine.travel(timezone.now() + timedelta(minutes=5)):
        response = post(client, data)
    # then nothing changes, not even the times
    assert response.status_code == 200
    assert row(survey) == before


def test_the_score_can_be_changed_before_submitting(db, client, survey_settings):
    # given a recorded 9
    survey = sent_survey()
    token = survey_token(survey)
    post(client, {"token": token, "action": "score", "score": "9"})
    # when the customer picks 3 instead
    response = post(client, {"token": token, "action": "score", "score": "3"})
    # then 3 is recorded, the answer is still open and no follow-up ticket exists yet
    assert response.status_code == 200
    assert _Markup(text_of(response)).checked_score() == "3"
    survey.refresh_from_db()
    assert (survey.state, survey.score) == (SurveyState.ANSWERED, 3)
    assert not Ticket.objects.filter(category="feedback").exists()


def test_submitting_stores_a_sanitized_comment_and_thanks(db, client, survey_settings):
    # given a recorded 10
    survey = sent_survey()
    token = survey_token(survey)
    post(client, {"token": token, "action": "score", "score": "10"})
    # when the customer submits a comment with markup and allows quoting
    response = post(
        client,
        {
            "token": token,
            "action": "submit",
            "score": "10",
            "comment": "Fast <script>alert(1)</script>and <b>friendly</b> & kind",
            "may_quote": "yes",
        },
    )
    # then the answer is final with the comment as plain text, and a testimonial waits
    assert response.status_code == 200
    assert "Thank you for your feedback." in text_of(response)
    survey.refresh_from_db()
    assert survey.state == SurveyState.SUBMITTED
    assert survey.score == 10
    assert survey.comment == "Fast and friendly & kind"
    assert survey.may_quote is True
    assert survey.submitted_at is not None
    testimonial = survey_models.Testimonial.objects.get(survey=survey)
    assert (testimonial.text, testimonial.state) == (
        "Fast and friendly & kind",
        "pending",
    )


def test_submitting_without_javascript_records_score_and_comment_at_once(
    db, client, survey_settings
):
    # given a survey whose landing page never posted (no JavaScript)
    survey = sent_survey(kind=SurveyKind.CSAT)
    # when the customer presses the button
    response = post(
        client,
        {
            "token": survey_token(survey),
            "action": "submit",
            "score": "2",
            "comment": "Slow.",
        },
    )
    # then the answer is final, and the low score opened its follow-up ticket
    assert response.status_code == 200
    survey.refresh_from_db()
    assert (survey.state, survey.score, survey.comment) == (
        SurveyState.SUBMITTED,
        2,
        "Slow.",
    )
    assert survey.may_quote is False
    assert survey.follow_up_ticket is not None
    assert survey.follow_up_ticket.category == "feedback"


def test_a_second_submission_is_409_and_changes_nothing(db, client, survey_settings):
    # given a submitted answer
    survey = sent_survey()
    token = survey_token(survey)
    first = {"token": token, "action": "submit", "score": "8", "comment": "Good."}
    assert post(client, first).status_code == 200
    before = row(survey)
    # when the form is sent again with other values, or a score is posted again
    again = post(client, {**first, "score": "0", "comment": "Changed my mind"})
    score = post(client, {"token": token, "action": "score", "score": "1"})
    # then both are refused as already answered and nothing changed
    assert again.status_code == 409
    assert score.status_code == 409
    assert "you have already answered this survey" in text_of(again)
    assert row(survey) == before
    # and opening the link again shows the same page, without a form
    reopened = client.get(survey_link(survey, 5))
    assert reopened.status_code == 200
    assert "you have already answered this survey" in text_of(reopened)
    assert "<form" not in text_of(reopened)


def _forged(survey: Survey) -> str:
    token = survey_token(survey)
    return token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")


@pytest.mark.parametrize(
    "make_token_for",
    [
        pytest.param(_forged, id="forged-signature"),
        pytest.param(
            lambda survey: make_survey_token(str(survey.pk), "eve@example.com"),
            id="another-recipient",
        ),
        pytest.param(
            lambda survey: make_token(survey.customer_email), id="unsubscribe-token"
        ),
        pytest.param(
            lambda survey: make_survey_token(
                "4c1d1a5e-0000-4000-8000-000000000000", survey.customer_email
            ),
            id="no-such-survey",
        ),
        pytest.param(lambda survey: "", id="empty"),
        pytest.param(lambda survey: "x" * 5000, id="garbage"),
    ],
)
def test_a_token_that_is_not_this_recipients_is_404_and_changes_nothing(
    db, client, survey_settings, make_token_for
):
    # given a sent survey
    survey = sent_survey()
    before = row(survey)
    token = make_token_for(survey)
    # when the page is opened and posted with that token
    opened = client.get(f"{SURVEY_URL}?{urlencode({'token': token, 'score': 9})}")
    scored = post(client, {"token": token, "action": "score", "score": "9"})
    submitted = post(client, {"token": token, "action": "submit", "score": "9"})
    # then each is a not-found page and the survey is untouched
    for response in (opened, scored, submitted):
        assert response.status_code == 404
        assert "This survey link is not valid." in text_of(response)
        assert "<form" not in text_of(response)
    assert row(survey) == before


def test_another_surveys_token_answers_only_that_survey(db, client, survey_settings):
    # given two surveys of the same customer, one of them cancelled before it was sent
    survey = sent_survey()
    cancelled = sent_survey(
        kind=SurveyKind.CSAT, state=SurveyState.CANCELLED, reason="ticket reopened"
    )
    before = row(survey)
    # when the cancelled survey's token is posted
    response = post(
        client, {"token": survey_token(cancelled), "action": "score", "score": "5"}
    )
    # then it is not valid, and neither survey changed
    assert response.status_code == 404
    assert row(survey) == before
    cancelled.refresh_from_db()
    assert (cancelled.state, cancelled.score) == (SurveyState.CANCELLED, None)


def test_a_token_in_the_query_only_does_not_post(db, client, survey_settings):
    # given a sent survey
    survey = sent_survey()
    before = row(survey)
    # when a POST carries the token in the address but not in its body
    response = client.post(
        survey_link(survey),
        urlencode({"action": "score", "score": "9"}),
        content_type=FORM,
    )
    # then it is refused: the body must carry the token
    assert response.status_code == 404
    assert row(survey) == before


def test_an_expired_survey_is_410_and_changes_nothing(db, client, survey_settings):
    # given a survey whose answer window closed yesterday
    survey = sent_survey(expires_in=timedelta(days=-1))
    before = row(survey)
    # when the link is opened and the score posted
    opened = client.get(survey_link(survey, 9))
    scored = post(
        client, {"token": survey_token(survey), "action": "score", "score": "9"}
    )
    # then both say the link expired
    for response in (opened, scored):
        assert response.status_code == 410
        assert "This survey link has expired." in text_of(response)
    assert row(survey) == before


def test_a_link_older_than_its_signature_allows_is_410(db, client, survey_settings):
    # given a survey without an expiry of its own, and its link
    survey = sent_survey(expires_at=None)
    token = survey_token(survey)
    before = row(survey)
    # when it is used after the link days (30) and a day of grace
    with time_machine.travel(timezone.now() + timedelta(days=32)):
        opened = client.get(f"{SURVEY_URL}?{urlencode({'token': token, 'score': 9})}")
        scored = post(client, {"token": token, "action": "score", "score": "9"})
    # then the link has expired
    assert (opened.status_code, scored.status_code) == (410, 410)
    assert row(survey) == before


@pytest.mark.parametrize(
    ("kind", "score"),
    [
        (SurveyKind.NPS, "11"),
        (SurveyKind.NPS, "-1"),
        (SurveyKind.NPS, "nine"),
        (SurveyKind.NPS, "9" * 5000),
        (SurveyKind.CSAT, "0"),
        (SurveyKind.CSAT, "6"),
        (SurveyKind.CSAT, ""),
    ],
)
def test_a_score_out_of_range_is_400_next_to_the_field(
    db, client, survey_settings, kind, score
):
    # given a sent survey
    survey = sent_survey(kind=kind)
    before = row(survey)
    token = survey_token(survey)
    # when the score is posted alone and with a comment
    scored = post(client, {"token": token, "action": "score", "score": score})
    submitted = post(
        client, {"token": token, "action": "submit", "score": score, "comment": "Kept"}
    )
    # then both show the error next to the scores, the comment kept, nothing changed
    low, high = (0, 10) if kind == SurveyKind.NPS else (1, 5)
    for response in (scored, submitted):
        assert response.status_code == 400
        html = text_of(response)
        assert (
            f'<p class="error" id="score-error">Choose a score from {low} to {high}.</p>'
            in html
        )
        assert 'aria-describedby="scale score-error"' in html
        assert 'aria-invalid="true" aria-describedby="score-error"' in html
    assert "Kept</textarea>" in text_of(submitted)
    assert row(survey) == before


def test_a_comment_over_the_limit_is_400_and_the_form_is_kept(
    db, client, survey_settings
):
    # given a survey with a recorded 6
    survey = sent_survey()
    token = survey_token(survey)
    post(client, {"token": token, "action": "score", "score": "6"})
    before = row(survey)
    comment = "<b>too</b> long " + "x" * 2000
    # when the customer submits a comment over 2,000 characters
    response = post(
        client,
        {
            "token": token,
            "action": "submit",
            "score": "4",
            "comment": comment,
            "may_quote": "yes",
        },
    )
    # then the error is shown at the comment, the form keeps (escaped) what they typed
    assert response.status_code == 400
    html = text_of(response)
    assert (
        '<p class="error" id="comment-error">Please shorten your comment to 2000 characters.</p>'
        in html
    )
    assert 'aria-describedby="comment-hint comment-error" aria-invalid="true"' in html
    assert f"&lt;b&gt;too&lt;/b&gt; long {'x' * 2000}</textarea>" in html
    page = _Markup(html)
    assert page.checked_score() == "4"
    assert any(c.get("id") == "may_quote" and "checked" in c for c in page.controls)
    # and nothing changed: no final answer, no follow-up ticket
    assert row(survey) == before
    assert not Ticket.objects.filter(category="feedback").exists()


def test_a_comment_of_exactly_the_limit_is_accepted(db, client, survey_settings):
    # given a sent survey
    survey = sent_survey()
    # when a comment of 2,000 characters (with browser line breaks) is submitted
    comment = ("y" * 99 + "\r\n") * 20
    response = post(
        client,
        {
            "token": survey_token(survey),
            "action": "submit",
            "score": "9",
            "comment": comment,
        },
    )
    # then it is stored whole, line breaks as newlines
    assert response.status_code == 200
    survey.refresh_from_db()
    assert survey.comment == ("y" * 99 + "\n") * 19 + "y" * 99


def test_a_german_survey_gets_a_german_page(db, client, survey_settings):
    # given a survey of an order placed in German (Austria)
    survey = sent_survey(language_code="de-AT")
    # when the link is opened and the score posted
    opened = client.get(survey_link(survey, 8))
    scored = post(
        client, {"token": survey_token(survey), "action": "score", "score": "8"}
    )
    # then the pages are in German
    html = text_of(opened)
    assert _Markup(html).html_lang == "de"
    assert "Wie wahrscheinlich ist es, dass Sie Acme Support" in html
    assert "Überhaupt nicht wahrscheinlich" in html
    assert ">Senden</button>" in html
    assert "Bestellung #5001" in html
    assert "Wir haben Ihre Bewertung 8 gespeichert" in text_of(scored)


def test_a_page_without_a_survey_speaks_the_browsers_language(
    db, client, survey_settings
):
    # when a broken link is opened by a browser preferring German
    response = client.get(
        f"{SURVEY_URL}?token=broken",
        HTTP_ACCEPT_LANGUAGE="fr;q=1, de-CH;q=0.8, en;q=0.5",
    )
    # then the not-found page is German
    assert response.status_code == 404
    assert _Markup(text_of(response)).html_lang == "de"
    assert "Dieser Umfrage-Link ist ungültig." in text_of(response)


def test_the_ticket_survey_page_has_five_scores_and_no_quote_box(
    db, client, survey_settings
):
    # given a CSAT survey about a solved ticket
    survey = sent_survey(kind=SurveyKind.CSAT)
    # when its link for a 4 is opened
    response = client.get(survey_link(survey, 4))
    # then five scores, the ticket named, no "quote me"
    html = text_of(response)
    page = _Markup(html)
    assert [c["value"] for c in page.controls if c.get("name") == "score"] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]
    assert page.checked_score() == "4"
    assert not any(c.get("type") == "checkbox" for c in page.controls)
    assert survey.ticket is not None
    assert f"Your request {survey.ticket.reference}" in html
    assert "How satisfied are you with the help you got from Acme Support?" in html
    assert "1 = Very dissatisfied" in html


def test_every_control_is_labelled_and_the_scores_are_a_group(
    db, client, survey_settings
):
    # given the landing page of a survey
    survey = sent_survey()
    html = text_of(client.get(survey_link(survey, 9)))
    page = _Markup(html)
    # then every visible control has a label, and the scores sit in a fieldset with a legend
    assert page.controls
    assert all(control.get("id") in page.label_for for control in page.controls)
    assert (
        page.tags.index("fieldset")
        < page.tags.index("legend")
        < page.tags.index("input:radio")
    )
    assert re.search(
        r"<label for=\"score-9\"><span aria-hidden=\"true\">9</span>"
        r"<span class=\"vh\">9 of 10</span></label>",
        html,
    )
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in html
    assert ":focus-visible" in html
    assert "<link" not in html
    assert "src=" not in html


def test_the_page_sends_strict_security_headers(db, client, survey_settings):
    # given the landing page of a survey
    survey = sent_survey()
    response = client.get(survey_link(survey, 9))
    # then scripts and styles run only by this response's nonce, forms post only to us
    csp = response["Content-Security-Policy"]
    nonce = re.search(r"script-src 'nonce-([A-Za-z0-9_-]+)'", csp)
    assert nonce is not None
    assert f"style-src 'nonce-{nonce.group(1)}'" in csp
    assert "default-src 'none'" in csp
    assert "form-action 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert _Markup(text_of(response)).scripts == [{"nonce": nonce.group(1)}]
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    # and each response has its own nonce; error pages have the same headers
    assert client.get(survey_link(survey, 9))["Content-Security-Policy"] != csp
    broken = client.get(f"{SURVEY_URL}?token=broken")
    assert broken["Referrer-Policy"] == "no-referrer"
    assert broken["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["put", "patch", "delete", "head", "options"])
def test_only_get_and_post_are_served(db, client, survey_settings, method):
    # given a survey
    survey = sent_survey()
    # when another method is used
    response = getattr(client, method)(survey_link(survey, 9))
    # then 405 naming the two
    assert response.status_code == 405
    assert response["Allow"] == "GET, POST"
    assert row(survey)["state"] == SurveyState.SENT


def test_a_post_from_another_site_is_refused(db, client, survey_settings):
    # given a sent survey and its token
    survey = sent_survey()
    data = {"token": survey_token(survey), "action": "score", "score": "9"}
    # when another site's page posts it (its Origin or Referer names that site)
    by_origin = post(client, data, HTTP_ORIGIN="https://evil.example")
    by_referer = post(client, data, HTTP_REFERER="https://evil.example/page")
    # then both are refused and nothing is recorded
    assert (by_origin.status_code, by_referer.status_code) == (403, 403)
    assert row(survey)["state"] == SurveyState.SENT
    # while our own page (Origin: null under no-referrer, or our public origin) is fine
    assert post(client, data, HTTP_ORIGIN="null").status_code == 200
    assert post(client, data, HTTP_ORIGIN="http://testserver").status_code == 200
    assert row(survey)["score"] == 9


def test_hostile_posts_get_4xx_never_500(db, client, survey_settings):
    # given a sent survey
    survey = sent_survey()
    token = survey_token(survey)
    before = row(survey)
    # when bodies no form sends arrive
    as_json = client.post(
        SURVEY_URL, {"token": token, "score": 9}, content_type="application/json"
    )
    multipart = client.post(
        SURVEY_URL, {"token": token, "action": "score", "score": "9"}
    )
    huge = post(
        client,
        {"token": token, "action": "submit", "score": "9", "comment": "x" * 70_000},
    )
    many = client.post(
        SURVEY_URL, "&".join(f"f{n}=1" for n in range(1200)), content_type=FORM
    )
    bad_length = client.post(
        SURVEY_URL, urlencode({"token": token}), content_type=FORM, CONTENT_LENGTH="-5"
    )
    unknown = post(client, {"token": token, "action": "delete", "score": "9"})
    bad_bytes = client.post(
        SURVEY_URL,
        b"token=" + token.encode() + b"&action=score&score=\xff\xfe",
        content_type=FORM,
    )
    # then each is a client error page, and nothing changed
    assert [
        r.status_code
        for r in (as_json, multipart, huge, many, bad_length, unknown, bad_bytes)
    ] == [415, 415, 413, 400, 400, 400, 400]
    assert row(survey) == before


def test_nul_characters_in_a_comment_are_dropped(db, client, survey_settings):
    # given a sent survey
    survey = sent_survey()
    # when the comment carries NUL characters (PostgreSQL refuses them in text)
    response = post(
        client,
        {
            "token": survey_token(survey),
            "action": "submit",
            "score": "9",
            "comment": "a\x00b",
        },
    )
    # then the answer is stored without them
    assert response.status_code == 200
    survey.refresh_from_db()
    assert survey.comment == "ab"


def test_the_token_never_reaches_the_logs(db, client, survey_settings, caplog):
    # given a survey and its token
    survey = sent_survey()
    token = survey_token(survey)
    caplog.set_level(logging.DEBUG)
    # when the customer goes through the page, and a few requests fail
    client.get(survey_link(survey, 2))
    post(client, {"token": token, "action": "score", "score": "2"})
    post(client, {"token": token, "action": "submit", "score": "99"})
    post(client, {"token": token, "action": "submit", "score": "2", "comment": "Late"})
    post(client, {"token": token, "action": "submit", "score": "2"})
    client.get(f"{SURVEY_URL}?{urlencode({'token': token[:-3] + 'abc'})}")
    # then a low score opened its ticket, and no log line holds the token
    survey.refresh_from_db()
    assert survey.follow_up_ticket is not None
    assert caplog.records
    for record in caplog.records:
        assert token[-20:] not in record.getMessage()
        assert token[-20:] not in repr(record.__dict__)
