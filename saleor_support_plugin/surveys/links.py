"""The one-click links of a survey email and the data its template sees."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .. import PLUGIN_ID
from ..conf import SupportSettings
from ..notifications.identity import store_name
from ..notifications.unsubscribe import public_base_url
from . import wording
from .models import Survey
from .tokens import make_survey_token


def survey_url(
    survey: Survey, settings: SupportSettings, score: int | None = None
) -> str:
    """Return the survey page for this survey's recipient; with `score`, that score chosen."""
    query = {"token": make_survey_token(str(survey.pk), survey.customer_email)}
    if score is not None:
        query["score"] = str(score)
    base = public_base_url(settings)
    return f"{base}/plugins/global/{PLUGIN_ID}/survey/?{urlencode(query)}"


def survey_context(survey: Survey, settings: SupportSettings) -> dict[str, Any]:
    low, high = survey.score_range
    store = store_name(settings)
    low_label, high_label = wording.scale_ends(survey.kind, survey.language_code)
    order = survey.order or (survey.ticket.order if survey.ticket else None)
    return {
        "survey": {
            "kind": survey.kind,
            "question": wording.question(
                survey.kind, survey.language_code, settings, store
            ),
            "scores": [
                {"score": score, "url": survey_url(survey, settings, score)}
                for score in range(low, high + 1)
            ],
            "page_url": survey_url(survey, settings),
            "low_label": low_label,
            "high_label": high_label,
            "expires_days": settings.survey_link_days,
        },
        "order": {
            "number": order.number,
            "customer_first_name": order.customer_first_name,
        }
        if order is not None
        else {},
        "ticket": {
            "reference": survey.ticket.reference,
            "subject": survey.ticket.subject,
        }
        if survey.ticket is not None
        else {},
        "store": {"name": store},
    }
