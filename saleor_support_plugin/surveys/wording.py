"""The words of surveys, per kind and language (en, de built in; questions editable in the dashboard)."""

from __future__ import annotations

from ..conf import SupportSettings
from .models import SurveyKind

LANGUAGES = ("en", "de")

QUESTIONS = {
    ("nps", "en"): "How likely are you to recommend {store} to a friend or colleague?",
    ("nps", "de"): "Wie wahrscheinlich ist es, dass Sie {store} Freunden oder Kollegen "
    "empfehlen?",
    ("csat", "en"): "How satisfied are you with the help you got from {store}?",
    ("csat", "de"): "Wie zufrieden sind Sie mit der Hilfe von {store}?",
}

# The two ends of the scale, read out with the lowest and highest score.
SCALE_ENDS = {
    ("nps", "en"): ("Not at all likely", "Extremely likely"),
    ("nps", "de"): ("Überhaupt nicht wahrscheinlich", "Äußerst wahrscheinlich"),
    ("csat", "en"): ("Very dissatisfied", "Very satisfied"),
    ("csat", "de"): ("Sehr unzufrieden", "Sehr zufrieden"),
}

# Words of the survey page, by language.
PAGE = {
    "en": {
        "title": "Your feedback",
        "score_legend": "Your score",
        "score_label": "{score} of {top}",
        "comment_label": "Anything you would like to tell us? (optional)",
        "quote_label": "You may quote my comment on the shop's website",
        "send": "Send",
        "send_score": "Send my score",
        "recorded": "Thank you! We recorded your score of {score}. You can change it and "
        "add a comment below.",
        "thanks": "Thank you for your feedback.",
        "already": "Thank you, you have already answered this survey.",
        "invalid": "This survey link is not valid.",
        "expired": "This survey link has expired.",
        "error": "Please check your answer.",
        "chars_left": "Up to {limit} characters.",
        "about_order": "Order #{number}",
        "about_ticket": "Your request {reference}",
        "score_error": "Choose a score from {low} to {high}.",
        "comment_error": "Please shorten your comment to {limit} characters.",
        "bad_request": "We could not read your answer. Please open the link in the "
        "email again.",
    },
    "de": {
        "title": "Ihre Meinung",
        "score_legend": "Ihre Bewertung",
        "score_label": "{score} von {top}",
        "comment_label": "Möchten Sie uns noch etwas sagen? (optional)",
        "quote_label": "Sie dürfen meinen Kommentar auf der Website des Shops zitieren",
        "send": "Senden",
        "send_score": "Bewertung senden",
        "recorded": "Vielen Dank! Wir haben Ihre Bewertung {score} gespeichert. Sie können "
        "sie unten ändern und einen Kommentar hinzufügen.",
        "thanks": "Vielen Dank für Ihre Rückmeldung.",
        "already": "Vielen Dank, Sie haben diese Umfrage bereits beantwortet.",
        "invalid": "Dieser Umfrage-Link ist ungültig.",
        "expired": "Dieser Umfrage-Link ist abgelaufen.",
        "error": "Bitte prüfen Sie Ihre Antwort.",
        "chars_left": "Bis zu {limit} Zeichen.",
        "about_order": "Bestellung #{number}",
        "about_ticket": "Ihre Anfrage {reference}",
        "score_error": "Bitte wählen Sie eine Bewertung von {low} bis {high}.",
        "comment_error": "Bitte kürzen Sie Ihren Kommentar auf {limit} Zeichen.",
        "bad_request": "Wir konnten Ihre Antwort nicht lesen. Bitte öffnen Sie den Link "
        "in der E-Mail erneut.",
    },
}


def language(code: str) -> str:
    """Return the built-in language for a language code (de-AT → de; unknown → en)."""
    base = (code or "en").lower().replace("_", "-").split("-")[0]
    return base if base in LANGUAGES else "en"


def question(
    kind: str, language_code: str, settings: SupportSettings, store: str
) -> str:
    """Return the merchant's wording for this kind and language, else the built-in one."""
    code = (language_code or "en").lower().replace("_", "-")
    custom = settings.survey_questions
    text = (
        custom.get(f"{kind}.{code}")
        or custom.get(f"{kind}.{code.split('-')[0]}")
        or QUESTIONS[(SurveyKind(kind).value, language(code))]
    )
    return text.replace("{{store.name}}", store).replace("{store}", store)


def scale_ends(kind: str, language_code: str) -> tuple[str, str]:
    return SCALE_ENDS[(SurveyKind(kind).value, language(language_code))]


def page_words(language_code: str) -> dict[str, str]:
    return PAGE[language(language_code)]
