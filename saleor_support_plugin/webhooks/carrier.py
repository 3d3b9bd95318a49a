"""`webhooks/carrier/`: shipment news from a carrier (or a tracking aggregator).

Request: POST, JSON body (at most 256 KB), headers
`X-Support-Timestamp: <unix seconds>` and
`X-Support-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`.

    {"event_id": "evt_123", "tracking_number": "1Z999", "status": "out_for_delivery",
     "occurred_at": "2026-11-23T08:15:00Z", "estimated_delivery": "2026-11-24",
     "description": "Loaded on delivery vehicle", "carrier": "ups"}

Answers: 202 accepted; 409 `duplicate_event` (this event id was received
before: nothing changes); 400 with the offending field; 401 signature
problems; 403 when no secret is configured; 413 too large.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from ..conf import SupportSettings
from ..core.http import PayloadTooLarge, json_error, read_body
from ..core.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify
from ..core.text import plain_text
from ..orders.models import OrderEventSource, OrderEventType
from ..orders.services import CARRIER_STATUSES, record_event
from .registry import register

MAX_BODY_BYTES = 256 * 1024


@dataclass(frozen=True)
class CarrierEventData:
    event_id: str
    tracking_number: str
    status: str
    occurred_at: datetime
    estimated_delivery: date | None
    description: str
    carrier: str


class InvalidPayload(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _string(data: dict[str, Any], name: str, *, required: bool, max_length: int) -> str:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise InvalidPayload(name, f"`{name}` is required.")
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(name, f"`{name}` must be a string.")
    value = value.strip()
    if len(value) > max_length:
        raise InvalidPayload(name, f"`{name}` is longer than {max_length} characters.")
    return value


def parse_carrier_event(body: bytes) -> CarrierEventData:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidPayload("body", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidPayload("body", "The body must be a JSON object.")
    status = _string(data, "status", required=True, max_length=32)
    if status not in CARRIER_STATUSES:
        raise InvalidPayload(
            "status", f"`status` must be one of: {', '.join(sorted(CARRIER_STATUSES))}."
        )
    occurred_raw = _string(data, "occurred_at", required=True, max_length=64)
    try:
        occurred_at = datetime.fromisoformat(occurred_raw)
    except ValueError:
        raise InvalidPayload(
            "occurred_at", "`occurred_at` must be an ISO 8601 date-time."
        ) from None
    if occurred_at.tzinfo is None:
        raise InvalidPayload(
            "occurred_at", "`occurred_at` needs a time zone (e.g. Z or +01:00)."
        )
    estimated_raw = _string(data, "estimated_delivery", required=False, max_length=64)
    estimated = None
    if estimated_raw:
        try:
            estimated = date.fromisoformat(estimated_raw[:10])
        except ValueError:
            raise InvalidPayload(
                "estimated_delivery",
                "`estimated_delivery` must be a date (YYYY-MM-DD).",
            ) from None
    # Stored text is sanitized: carriers' descriptions end up in customer emails.
    return CarrierEventData(
        event_id=_string(data, "event_id", required=True, max_length=200),
        tracking_number=_string(data, "tracking_number", required=True, max_length=255),
        status=status,
        occurred_at=occurred_at,
        estimated_delivery=estimated,
        description=plain_text(
            _string(data, "description", required=False, max_length=1000)
        ),
        carrier=plain_text(_string(data, "carrier", required=False, max_length=64)),
    )


@register("carrier")
def handle_carrier_webhook(
    request: HttpRequest, settings: SupportSettings
) -> HttpResponse:
    secret = settings.carrier_webhook_secret.reveal()
    if not secret:
        return json_error(
            403,
            "webhook_not_configured",
            "Set the carrier webhook secret in the plugin settings.",
        )
    try:
        body = read_body(request, MAX_BODY_BYTES)
    except PayloadTooLarge:
        return json_error(
            413, "payload_too_large", f"The body exceeds {MAX_BODY_BYTES // 1024} KB."
        )
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
        event = parse_carrier_event(body)
    except InvalidPayload as exc:
        return json_error(400, "invalid", exc.message, field=exc.field)
    created = record_event(
        type=OrderEventType.CARRIER,
        key=f"carrier:{event.event_id}",
        source=OrderEventSource.CARRIER,
        occurred_at=event.occurred_at,
        extra={
            "event_id": event.event_id,
            "tracking_number": event.tracking_number,
            "status": event.status,
            "occurred_at": event.occurred_at.isoformat(),
            "estimated_delivery": event.estimated_delivery.isoformat()
            if event.estimated_delivery
            else None,
            "description": event.description,
            "carrier": event.carrier,
        },
    )
    if not created:
        return json_error(
            409, "duplicate_event", f"Event {event.event_id!r} was already received."
        )
    return JsonResponse({"status": "accepted", "event_id": event.event_id}, status=202)
