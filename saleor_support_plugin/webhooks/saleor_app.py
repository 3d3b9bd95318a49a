"""`webhooks/saleor/`: the App webhook Saleor sends when a promotion changes a variant's price.

The desk's manifest subscribes to `PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED`
with `desk.subscriptions.DISCOUNTED_PRICE_QUERY`; Saleor then POSTs

    {"productVariant": {"id": "UHJvZHVjdFZhcmlhbnQ6NDI="}, "channel": {"slug": "default-channel"}}

with headers `Saleor-Event: product_variant_discounted_price_updated`,
`Saleor-Domain`, `Saleor-Api-Url` and `Saleor-Signature`: a detached-payload
JWS (RS256, header `{alg, b64: false, crit: ["b64"], kid}`) over the raw body,
checked against Saleor's public keys (the `saleor_signing_keys` port: inside
Saleor its own key, read in-process). The change is recorded as the plugin hook
`product_variant_discounted_price_updated` records it; a redelivery records it
again, which is harmless (price protection compares prices, it does not count
notes).

Answers: 202 recorded; 401 `invalid_signature` (missing, malformed, unknown
key, forged or over another body: nothing recorded); 400 `unsupported_event`
(any other event: the App subscribes to this one only, so another one is a
misconfigured webhook that should show as failing in the Dashboard), `invalid`
naming the field, `invalid_json`, `too_deep`, `invalid_characters`,
`invalid_content_length`; 403 `webhook_not_configured` when the host has no
Saleor keys; 413 too large.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import jwt
from django.http import HttpRequest, HttpResponse, JsonResponse

from ..conf import SupportSettings
from ..core.http import BadRequestBody, PayloadTooLarge, read_body
from ..ports import saleor_signing_keys
from ..price_protection.models import PriceChangeSource
from ..price_protection.services import record_price_change
from .payload import InvalidPayload, Refused, load_object
from .registry import register

__all__ = ["DiscountedPriceChange", "parse_discounted_price_change", "verify_signature"]

MAX_BODY_BYTES = 64 * 1024
# A JWS of a 2048- or 4096-bit RSA signature is well under this.
MAX_SIGNATURE_CHARS = 4096
EVENT_HEADER = "Saleor-Event"
SIGNATURE_HEADER = "Saleor-Signature"
EVENT = "product_variant_discounted_price_updated"
ALGORITHM = "RS256"
VARIANT_TYPE = "ProductVariant"
# Saleor's variant ids are integers; the hook records `str(variant_id)`.
VARIANT_PK = re.compile(r"[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class DiscountedPriceChange:
    variant_id: str
    channel_slug: str


def _invalid_signature(message: str) -> Refused:
    return Refused(401, "invalid_signature", message, field=SIGNATURE_HEADER)


def verify_signature(
    signature: str | None, body: bytes, keys: list[dict[str, Any]]
) -> None:
    """Check Saleor's detached JWS over `body` with one of `keys`; raise `Refused` (401) otherwise."""
    if not signature:
        raise _invalid_signature(f"The {SIGNATURE_HEADER} header is missing.")
    if len(signature) > MAX_SIGNATURE_CHARS:
        raise _invalid_signature(f"The {SIGNATURE_HEADER} header is too long.")
    try:
        header = jwt.get_unverified_header(signature)
    except jwt.PyJWTError:
        raise _invalid_signature(
            f"The {SIGNATURE_HEADER} header is not a JWS."
        ) from None
    # Only the shape Saleor signs: an unencoded, detached payload with RS256.
    # Anything else (alg "none", HS256 with the public key as secret, an
    # attached payload) is refused before a key is touched.
    if (
        header.get("alg") != ALGORITHM
        or header.get("b64") is not False
        or header.get("crit") != ["b64"]
    ):
        raise _invalid_signature(
            "The signature is not an RS256 JWS over the unencoded body."
        )
    kid = header.get("kid")
    jwk = next((key for key in keys if key.get("kid") == kid), None)
    if jwk is None:
        raise _invalid_signature("The signature names a key Saleor does not publish.")
    try:
        public_key = jwt.PyJWK(jwk, algorithm=ALGORITHM).key
        jwt.api_jws.decode_complete(
            signature,
            key=public_key,
            algorithms=[ALGORITHM],
            detached_payload=body,
        )
    except jwt.PyJWTError:
        raise _invalid_signature("The signature does not match the body.") from None


def _object(data: dict[str, Any], name: str) -> dict[str, Any]:
    value = data.get(name)
    if not isinstance(value, dict):
        raise InvalidPayload(name, f"`{name}` must be an object.")
    return value


def _string(data: dict[str, Any], name: str, field: str, max_length: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(field, f"`{field}` must be a non-empty string.")
    if len(value) > max_length:
        raise InvalidPayload(
            field, f"`{field}` is longer than {max_length} characters."
        )
    return value.strip()


def _variant_pk(global_id: str) -> str:
    """`ProductVariant:<pk>` in base64 (graphene's global id) → `<pk>`."""
    field = "productVariant.id"
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        decoded = base64.b64decode(padded, validate=True).decode("ascii")
    except (binascii.Error, ValueError):
        raise InvalidPayload(field, f"`{field}` is not a Saleor global id.") from None
    type_name, _, pk = decoded.partition(":")
    if type_name != VARIANT_TYPE or not VARIANT_PK.fullmatch(pk):
        raise InvalidPayload(field, f"`{field}` is not a product variant's id.")
    return pk


def parse_discounted_price_change(body: bytes) -> DiscountedPriceChange:
    data = load_object(body)
    variant = _object(data, "productVariant")
    channel = _object(data, "channel")
    global_id = _string(variant, "id", "productVariant.id", 200)
    return DiscountedPriceChange(
        variant_id=_variant_pk(global_id),
        channel_slug=_string(channel, "slug", "channel.slug", 255),
    )


def _signed_body(request: HttpRequest) -> bytes:
    try:
        body = read_body(request, MAX_BODY_BYTES)
    except PayloadTooLarge:
        raise Refused(
            413, "payload_too_large", f"The body exceeds {MAX_BODY_BYTES // 1024} KB."
        ) from None
    except BadRequestBody as exc:
        raise Refused(400, exc.code, exc.message, field="Content-Length") from None
    keys = saleor_signing_keys()
    if not keys:
        raise Refused(
            403,
            "webhook_not_configured",
            "This host publishes no Saleor signing keys to verify the webhook with.",
        )
    verify_signature(request.headers.get(SIGNATURE_HEADER), body, keys)
    return body


@register("saleor")
def handle_saleor_webhook(
    request: HttpRequest, settings: SupportSettings
) -> HttpResponse:
    try:
        body = _signed_body(request)
        # Checked once the body is known to be Saleor's: unsigned callers learn nothing.
        event = (request.headers.get(EVENT_HEADER) or "").strip().lower()
        if event != EVENT:
            raise Refused(
                400,
                "unsupported_event",
                f"Only {EVENT.upper()} is handled here; unsubscribe the App's webhook "
                "from other events.",
                field=EVENT_HEADER,
            )
        change = parse_discounted_price_change(body)
    except Refused as exc:
        return exc.response()
    record_price_change(
        variant_id=change.variant_id,
        channel_slug=change.channel_slug,
        source=PriceChangeSource.DISCOUNTED_PRICE,
    )
    return JsonResponse(
        {
            "status": "accepted",
            "variant_id": change.variant_id,
            "channel_slug": change.channel_slug,
        },
        status=202,
    )
