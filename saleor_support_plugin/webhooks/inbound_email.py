"""`webhooks/inbound-email/`: email forwarded by the merchant's mail provider, as JSON.

    {"from": "alice@example.com", "to": ["support+t1042.ab12cd34ef56@shop.example"],
     "subject": "Re: [#1042] Zipper", "text": "…", "html": "…",
     "message_id": "<abc@mail.example>", "in_reply_to": "<…>", "references": ["<…>"]}

Signed like the carrier webhook (X-Support-Timestamp, X-Support-Signature) with
the `inbound_email_secret` setting. Answers 202 with what happened (created,
replied, sender_mismatch, empty), 200 for a Message-ID seen before, 400/401/403/413.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, JsonResponse

from ..conf import SupportSettings
from ..core.errors import PermissionDenied
from ..core.http import PayloadTooLarge, json_error, read_body
from ..core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify
from ..tickets.inbound import InboundEmailData, receive_inbound_email
from .carrier import InvalidPayload
from .registry import register

MAX_BODY_BYTES = 2 * 1024 * 1024


def _string(
    data: dict[str, Any], name: str, max_length: int, *, required: bool = False
) -> str:
    value = data.get(name)
    if value in (None, ""):
        if required:
            raise InvalidPayload(name, f"`{name}` is required.")
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(name, f"`{name}` must be a string.")
    if len(value) > max_length:
        raise InvalidPayload(name, f"`{name}` is longer than {max_length} characters.")
    return value


def _string_list(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data.get(name)
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(
        isinstance(item, str) and len(item) <= 998 for item in value
    ):
        raise InvalidPayload(name, f"`{name}` must be a list of strings.")
    return tuple(value[:100])


def parse_inbound_email(body: bytes) -> InboundEmailData:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayload("body", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body", "The body must be a JSON object.")
    sender = _string(data, "from", 254, required=True).strip()
    if "<" in sender and sender.endswith(">"):
        sender = sender.rsplit("<", 1)[1][:-1].strip()
    try:
        validate_email(sender)
    except ValidationError:
        raise InvalidPayload("from", "`from` is not an email address.") from None
    email = InboundEmailData(
        sender=sender,
        to=_string_list(data, "to"),
        subject=_string(data, "subject", 998),
        text=_string(data, "text", MAX_BODY_BYTES),
        html=_string(data, "html", MAX_BODY_BYTES),
        message_id=_string(data, "message_id", 998, required=True).strip(),
        in_reply_to=_string(data, "in_reply_to", 998),
        references=_string_list(data, "references"),
    )
    if not email.text.strip() and not email.html.strip():
        raise InvalidPayload("text", "Send `text` or `html`.")
    return email


@register("inbound-email")
def handle_inbound_email(
    request: HttpRequest, settings: SupportSettings
) -> HttpResponse:
    secret = settings.inbound_email_secret.reveal()
    if not secret:
        return json_error(
            403,
            "webhook_not_configured",
            "Set the inbound email secret in the plugin settings.",
        )
    try:
        body = read_body(request, MAX_BODY_BYTES)
    except PayloadTooLarge:
        return json_error(413, "payload_too_large", "The body exceeds 2 MB.")
    try:
        verify(
            secret,
            timestamp=request.headers.get(TIMESTAMP_HEADER),
            sig=request.headers.get(SIGNATURE_HEADER),
            body=body,
        )
    except SignatureError as exc:
        return json_error(401, exc.code, exc.message)
    try:
        email = parse_inbound_email(body)
    except InvalidPayload as exc:
        return json_error(400, "invalid", exc.message, field=exc.field)
    if not settings.tickets_enabled:
        return json_error(403, "feature_disabled", "Support tickets are switched off.")
    try:
        result = receive_inbound_email(email, settings)
    except ValidationError as exc:
        # e.g. the sender hit the ticket rate limit: tell the provider, keep nothing half-written
        return json_error(
            429 if "rate" in str(exc).lower() else 400,
            "rejected",
            " ".join(exc.messages),
        )
    except PermissionDenied:
        return json_error(403, "rejected", "This sender cannot open tickets.")
    if result.outcome == "duplicate":
        return JsonResponse({"status": "duplicate"}, status=200)
    return JsonResponse(
        {"status": result.outcome, "ticket": result.ticket_number}, status=202
    )
