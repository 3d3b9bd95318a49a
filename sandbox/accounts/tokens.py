"""Bearer tokens of the sandbox: HS256 JWTs shaped like Saleor's access tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
from django.conf import settings

ISSUER = "saleor-support-sandbox"
ALGORITHM = "HS256"


def create_access_token(user, *, ttl_seconds: int | None = None) -> str:
    now = datetime.now(UTC)
    ttl = ttl_seconds if ttl_seconds is not None else settings.SANDBOX_TOKEN_TTL_SECONDS
    payload = {
        "iss": ISSUER,
        "type": "access",
        "sub": str(user.pk),
        "email": user.email,
        "iat": now,
        "exp": now + timedelta(seconds=ttl),
    }
    return jwt.encode(payload, settings.SECRET_KEY, algorithm=ALGORITHM)


def decode_access_token(token: str) -> dict:
    """Raise a `jwt.PyJWTError` subclass for anything but a valid access token.

    `iat` is informational (expiry is what counts), so tests may travel in time.
    """
    payload = jwt.decode(
        token,
        settings.SECRET_KEY,
        algorithms=[ALGORITHM],
        issuer=ISSUER,
        options={"require": ["exp", "sub"], "verify_iat": False},
    )
    if payload.get("type") != "access":
        raise jwt.InvalidTokenError("Not an access token.")
    return payload
