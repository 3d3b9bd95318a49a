"""What every inbound webhook does before it reads its fields: size, signature, JSON.

Signature before parsing: an unsigned body is answered 401 before a byte of it
is decoded. A signed body can still be hostile (a provider relays what senders
wrote), so it is decoded by `core.http.load_json` (depth, NUL, lone surrogates).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from ..core.http import (
    BadRequestBody,
    PayloadTooLarge,
    check_json_value,
    json_error,
    load_json,
    read_body,
)
from ..core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify


class Refused(Exception):
    """A request the webhook answers with a coded 4xx; nothing was written."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers

    def response(self) -> JsonResponse:
        return json_error(
            self.status,
            self.code,
            self.message,
            field=self.field,
            headers=self.headers,
        )


class InvalidPayload(Refused):
    """A field of a signed body that is missing or wrong: 400 `invalid` naming it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(400, "invalid", message, field=field)


def signed_body(request: HttpRequest, secret: str, limit: int) -> bytes:
    """Return the body once it is within `limit` bytes and signed with `secret`."""
    try:
        body = read_body(request, limit)
    except PayloadTooLarge:
        raise Refused(
            413, "payload_too_large", f"The body exceeds {limit // 1024} KB."
        ) from None
    except BadRequestBody as exc:
        raise Refused(400, exc.code, exc.message, field="Content-Length") from None
    try:
        verify(
            secret,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            sig=request.headers.get(SIGNATURE_HEADER),
            body=body,
        )
    except SignatureError as exc:
        raise Refused(401, exc.code, exc.message) from None
    return body


def load_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object; refusals name the top-level field that holds bad text."""
    try:
        data = load_json(body)
    except BadRequestBody as exc:
        raise Refused(400, exc.code, exc.message, field=_field_of(body, exc)) from None
    if not isinstance(data, dict):
        raise InvalidPayload("body", "The body must be a JSON object.")
    return data


def _field_of(body: bytes, exc: BadRequestBody) -> str:
    if exc.code != "invalid_characters":
        return exc.field
    import json

    # load_json decoded it before refusing the text, so this cannot fail or recurse deeper.
    data = json.loads(body)
    if isinstance(data, dict):
        for key, value in data.items():
            try:
                check_json_value(value)
            except BadRequestBody as inner:
                if inner.code != "invalid_characters":
                    continue
                try:
                    check_json_value(key)
                except BadRequestBody:
                    return exc.field  # the name itself is bad: do not echo it
                return str(key)[:100]
    return exc.field
