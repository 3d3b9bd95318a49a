"""`webhooks/inbound-email/`: email forwarded by the merchant's mail provider, as JSON.

    {"from": "alice@example.com", "to": ["support+t1042.ab12cd34ef56@shop.example"],
     "subject": "Re: [#1042] Zipper", "text": "…", "html": "…",
     "message_id": "<abc@mail.example>", "in_reply_to": "<…>", "references": ["<…>"],
     "authentication_results": "mx.shop.example; dkim=pass header.d=example.com; …",
     "authentication": {"dmarc": "pass", "dkim": "pass", "dkim_domain": "example.com",
                        "spf": "pass", "spf_domain": "example.com"}}

`authentication_results` (the `Authentication-Results` header your receiving
server added, RFC 8601) and `authentication` (plain verdicts) are optional:
without a DMARC pass or an aligned DKIM/SPF pass (see `tickets.sender_auth`)
the sender is unverified and a new ticket is not attached to their account.

Signed like the carrier webhook (X-Support-Timestamp, X-Support-Signature) with
the `inbound_email_secret` setting. Answers 202 with what happened (created,
replied, sender_mismatch, empty), 200 for a Message-ID seen before, 429
`rate_limited` with Retry-After, 400 with a code and field, 401/403/413.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, JsonResponse

from ..conf import SupportSettings
from ..core.errors import PermissionDenied, SupportErrorCode
from ..core.http import json_error
from ..tickets.inbound import (
    InboundEmailData,
    InboundRateLimited,
    receive_inbound_email,
)
from ..tickets.sender_auth import (
    MAX_HEADER_LENGTH,
    VERDICT_FIELDS,
    SenderAuthentication,
    from_verdicts,
    parse_authentication_results,
)
from .payload import InvalidPayload, Refused, load_object, signed_body
from .registry import register

MAX_BODY_BYTES = 2 * 1024 * 1024
# Service fields the payload fields were passed to.
PAYLOAD_FIELDS = {"body": "text", "subject": "subject"}


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


def _authentication(data: dict[str, Any]) -> SenderAuthentication:
    auth = SenderAuthentication()
    header = _string(data, "authentication_results", MAX_HEADER_LENGTH)
    if header:
        auth = auth | parse_authentication_results(header)
    verdicts = data.get("authentication")
    if verdicts is not None:
        if not isinstance(verdicts, dict) or not all(
            isinstance(verdicts.get(name, ""), str)
            and len(verdicts.get(name, "")) <= 255
            for name in VERDICT_FIELDS
        ):
            raise InvalidPayload(
                "authentication",
                f"`authentication` must be an object of strings ({', '.join(VERDICT_FIELDS)}).",
            )
        auth = auth | from_verdicts(verdicts)
    return auth


def parse_inbound_email(body: bytes) -> InboundEmailData:
    data = load_object(body)
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
        authentication=_authentication(data),
    )
    if not email.message_id:
        raise InvalidPayload("message_id", "`message_id` is required.")
    if not email.text.strip() and not email.html.strip():
        raise InvalidPayload("text", "Send `text` or `html`.")
    return email


def _codes(exc: ValidationError) -> list[tuple[str, str | None]]:
    """(field, code) of each error, in order."""
    if hasattr(exc, "error_dict"):
        return [
            (name, error.code)
            for name, errors in exc.error_dict.items()
            for error in errors
        ]
    return [("__all__", error.code) for error in exc.error_list]


def _refusal(exc: ValidationError) -> Refused:
    """Map a service's coded error to an answer by its code, never by its wording."""
    errors = _codes(exc) or [("__all__", SupportErrorCode.INVALID.value)]
    message = " ".join(exc.messages)
    if any(code == SupportErrorCode.RATE_LIMITED for _, code in errors):
        # Ticket write limits count per fixed hour (core.ratelimit): retry at the next one.
        retry_after = 3600 - int(time.time()) % 3600
        return Refused(
            429,
            SupportErrorCode.RATE_LIMITED.value,
            message,
            headers={"Retry-After": str(retry_after)},
        )
    name, code = errors[0]
    return Refused(
        400,
        code or SupportErrorCode.INVALID.value,
        message,
        field=PAYLOAD_FIELDS.get(name, "body"),
    )


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
        email = parse_inbound_email(signed_body(request, secret, MAX_BODY_BYTES))
    except Refused as exc:
        return exc.response()
    if not settings.tickets_enabled:
        return json_error(403, "feature_disabled", "Support tickets are switched off.")
    try:
        result = receive_inbound_email(email, settings)
    except InboundRateLimited as exc:
        # Nothing was kept: the provider may deliver it again after Retry-After.
        return json_error(
            429,
            exc.code.value,
            str(exc),
            headers={"Retry-After": str(exc.retry_after)},
        )
    except ValidationError as exc:
        return _refusal(exc).response()
    except PermissionDenied:
        return json_error(403, "rejected", "This sender cannot open tickets.")
    if result.outcome == "duplicate":
        return JsonResponse({"status": "duplicate"}, status=200)
    return JsonResponse(
        {"status": result.outcome, "ticket": result.ticket_number}, status=202
    )
