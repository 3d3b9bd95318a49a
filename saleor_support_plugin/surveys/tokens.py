"""Signed survey links: per survey and recipient, expiring; forged or foreign tokens read as None."""

from __future__ import annotations

from dataclasses import dataclass

from django.core import signing

SALT = "saleor-support-plugin.survey"


@dataclass(frozen=True)
class SurveyToken:
    survey_id: str
    email: str


def make_survey_token(survey_id: str, email: str) -> str:
    return signing.dumps({"s": str(survey_id), "e": email.lower()}, salt=SALT)


def read_survey_token(
    token: str, *, max_age_seconds: int | None
) -> SurveyToken | None:
    """Return the token's survey and recipient; None when forged, malformed or expired.

    Raises `signing.SignatureExpired` separately so callers can say "expired".
    """
    try:
        data = signing.loads(
            str(token or "")[:1000], salt=SALT, max_age=max_age_seconds
        )
    except signing.SignatureExpired:
        raise
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict):
        return None
    survey_id, email = data.get("s"), data.get("e")
    if not (isinstance(survey_id, str) and isinstance(email, str) and survey_id):
        return None
    return SurveyToken(survey_id, email)
