"""HMAC-SHA256 over `<timestamp>.<body>`: signs outgoing and verifies inbound webhooks."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

TIMESTAMP_HEADER = "X-Support-Timestamp"
SIGNATURE_HEADER = "X-Support-Signature"
TOLERANCE_SECONDS = 300


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(
        secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    return f"sha256={digest}"


def signed_headers(
    secret: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    timestamp = str(int(now if now is not None else time.time()))
    return {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


@dataclass(frozen=True)
class SignatureError(Exception):
    code: str
    message: str


def verify(
    secret: str,
    *,
    timestamp: str | None,
    sig: str | None,
    body: bytes,
    now: float | None = None,
) -> None:
    """Raise SignatureError unless `sig` signs `body` at a timestamp within the tolerance."""
    if not timestamp or not sig:
        raise SignatureError(
            "signature_missing",
            f"Send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER} headers.",
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise SignatureError(
            "invalid_timestamp", f"{TIMESTAMP_HEADER} must be Unix seconds."
        ) from None
    current = now if now is not None else time.time()
    if abs(current - sent_at) > TOLERANCE_SECONDS:
        raise SignatureError(
            "stale_timestamp",
            "The request is older than 5 minutes (or from the future).",
        )
    # compare_digest refuses non-ASCII str (TypeError): a header with it simply does not match.
    if not sig.isascii() or not hmac.compare_digest(
        signature(secret, timestamp, body), sig.strip()
    ):
        raise SignatureError(
            "invalid_signature", "The signature does not match the body."
        )
