"""`webhooks/carrier/`: shipment news from a carrier (or a tracking aggregator).

Request: POST, JSON body (at most 256 KB), headers
`X-Support-Timestamp: <unix seconds>` and
`X-Support-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`.

    {"event_id": "evt_123", "tracking_number": "1Z999", "status": "out_for_delivery",
     "occurred_at": "2026-11-23T08:15:00Z", "estimated_delivery": "2026-11-24",
     "description": "Loaded on delivery vehicle", "carrier": "ups"}

`occurred_at` is a date-time with a time zone, at most a year old and at most a
day ahead; `estimated_delivery` a date within two years of today.

Answers: 202 accepted; 409 `duplicate_event` (this event id was received
before: nothing changes); 400 with a code (`invalid`, `invalid_json`,
`too_deep`, `invalid_characters`, `invalid_content_length`) and the offending
field; 401 signature problems; 403 when no secret is configured; 413 too large.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone

from ..conf import SupportSettings
from ..core.http import json_error
from ..core.text import plain_text
from ..orders.models import OrderEventSource, OrderEventType
from ..orders.services import CARRIER_STATUSES, process_now, record_event
from .payload import InvalidPayload, Refused, load_object, signed_body
from .registry import register

__all__ = ["CarrierEventData", "InvalidPayload", "parse_carrier_event"]

MAX_BODY_BYTES = 256 * 1024
# News older than this is history, not news; a clock a day ahead is a clock
# problem worth accepting. Outside the range a time may not even be storable
# (9999-12-31T23:59:59-14:00 is year 10000 in UTC).
OCCURRED_AT_MAX_AGE = timedelta(days=365)
OCCURRED_AT_MAX_AHEAD = timedelta(days=1)
ESTIMATED_DELIVERY_MAX_DISTANCE = timedelta(days=2 * 365)


@dataclass(frozen=True)
class CarrierEventData:
    event_id: str
    tracking_number: str
    status: str
    occurred_at: datetime
    estimated_delivery: date | None
    description: str
    carrier: str


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


def _occurred_at(raw: str, now: datetime) -> datetime:
    try:
        occurred_at = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidPayload(
            "occurred_at", "`occurred_at` must be an ISO 8601 date-time."
        ) from None
    if occurred_at.tzinfo is None:
        raise InvalidPayload(
            "occurred_at", "`occurred_at` needs a time zone (e.g. Z or +01:00)."
        )
    # Aware datetimes compare by instant, without converting (which could overflow).
    if not now - OCCURRED_AT_MAX_AGE <= occurred_at <= now + OCCURRED_AT_MAX_AHEAD:
        raise InvalidPayload(
            "occurred_at",
            "`occurred_at` must be within the last year (and at most a day ahead).",
        )
    return occurred_at


def _estimated_delivery(raw: str, today: date) -> date | None:
    if not raw:
        return None
    try:
        estimated = date.fromisoformat(raw[:10])
    except ValueError:
        raise InvalidPayload(
            "estimated_delivery", "`estimated_delivery` must be a date (YYYY-MM-DD)."
        ) from None
    if abs(estimated - today) > ESTIMATED_DELIVERY_MAX_DISTANCE:
        raise InvalidPayload(
            "estimated_delivery",
            "`estimated_delivery` must be within two years of today.",
        )
    return estimated


def parse_carrier_event(
    body: bytes, *, now: datetime | None = None
) -> CarrierEventData:
    now = now or timezone.now()
    data = load_object(body)
    status = _string(data, "status", required=True, max_length=32)
    if status not in CARRIER_STATUSES:
        raise InvalidPayload(
            "status", f"`status` must be one of: {', '.join(sorted(CARRIER_STATUSES))}."
        )
    occurred_at = _occurred_at(
        _string(data, "occurred_at", required=True, max_length=64), now
    )
    estimated = _estimated_delivery(
        _string(data, "estimated_delivery", required=False, max_length=64), now.date()
    )
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
        event = parse_carrier_event(signed_body(request, secret, MAX_BODY_BYTES))
    except Refused as exc:
        return exc.response()
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
    outcome = process_now(f"carrier:{event.event_id}", settings=settings)
    return JsonResponse(
        {"status": "accepted", "event_id": event.event_id, "outcome": outcome},
        status=202,
    )
