"""Signed survey links: per survey and recipient, expiring; forged or foreign tokens read as None.

The recipient is named by a keyed digest of their address, not the address:
the token sits in a URL (mail scanners, proxies and access logs keep those),
and Django's signed payload is only base64, readable by anyone.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from django.core import signing
from django.utils.crypto import salted_hmac

SALT = "saleor-support-plugin.survey"


def recipient_digest(email: str) -> str:
    return salted_hmac(f"{SALT}.recipient", email.strip().lower()).hexdigest()[:32]


@dataclass(frozen=True)
class SurveyToken:
    survey_id: str
    # recipient_digest() of the address the link was sent to.
    recipient: str

    def is_for(self, email: str) -> bool:
        return hmac.compare_digest(self.recipient, recipient_digest(email))


def make_survey_token(survey_id: str, email: str) -> str:
    return signing.dumps({"s": str(survey_id), "r": recipient_digest(email)}, salt=SALT)


def read_survey_token(token: str, *, max_age_seconds: int | None) -> SurveyToken | None:
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
    survey_id, recipient = data.get("s"), data.get("r")
    if not (isinstance(survey_id, str) and isinstance(recipient, str) and survey_id):
        return None
    return SurveyToken(survey_id, recipient)
