"""`webhooks/saleor/`: Saleor's signed PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED, recorded like the hook."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

import jwt
from django.test import TestCase

from saleor_support_plugin.price_protection.models import (
    ClaimState,
    PriceChange,
    PriceChangeSource,
    PriceClaim,
)
from sandbox import saleor_signing
from sandbox.order.models import VariantChannelListing

from .fixtures.graphql import PLUGIN_URL
from .fixtures.price_protection import buy

SALEOR_WEBHOOK_URL = f"{PLUGIN_URL}/webhooks/saleor/"


def variant_global_id(pk: int | str) -> str:
    return base64.b64encode(f"ProductVariant:{pk}".encode()).decode()


def payload(variant_id: int | str = 42, channel: str = "default-channel") -> bytes:
    """Return the body Saleor sends for the desk's subscription query."""
    return json.dumps(
        {
            "productVariant": {"id": variant_global_id(variant_id)},
            "channel": {"slug": channel},
        }
    ).encode()


def deliver(client, body: bytes, headers: dict[str, str]) -> Any:
    # The recording waits for the commit, as it does inside Saleor's request.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            SALEOR_WEBHOOK_URL,
            data=body,
            content_type="application/json",
            headers=headers,
        )


def error_code(response) -> str:
    return response.json()["error"]["code"]


def test_signed_delivery_records_one_price_change_and_refunds_the_drop(
    db, client, price_config
):
    # given an order, then a promotion that lowers the price without any hook
    _, line = buy(price="100.00")
    assert line.variant_id is not None
    VariantChannelListing.objects.filter(variant_id=line.variant_id).update(
        discounted_price_amount=Decimal("70.00")
    )
    body = payload(line.variant_id)

    # when Saleor delivers the signed event
    response = deliver(client, body, saleor_signing.webhook_headers(body))

    # then it is recorded as the hook records it, and price protection acted on it
    assert response.status_code == 202
    assert response.json() == {
        "status": "accepted",
        "variant_id": str(line.variant_id),
        "channel_slug": "default-channel",
    }
    change = PriceChange.objects.get()
    assert (change.variant_id, change.channel_slug, change.source) == (
        str(line.variant_id),
        "default-channel",
        PriceChangeSource.DISCOUNTED_PRICE,
    )
    assert change.processed_at is not None
    claim = PriceClaim.objects.get()
    assert claim.state == ClaimState.REFUNDED
    assert claim.amount == Decimal("30.00")


def test_tampered_body_is_refused_and_nothing_recorded(db, client):
    # given a signature over another variant's body
    headers = saleor_signing.webhook_headers(payload(42))
    # when
    response = deliver(client, payload(43), headers)
    # then
    assert response.status_code == 401
    assert error_code(response) == "invalid_signature"
    assert response.json()["error"]["field"] == "Saleor-Signature"
    assert not PriceChange.objects.exists()


def test_signature_from_another_key_is_refused(db, client):
    # given a body signed with a key Saleor does not publish (even under its kid)
    body = payload()
    other = saleor_signing.generate_private_key()
    forged = saleor_signing.webhook_headers(body, key=other)
    published_kid = saleor_signing.key_id(saleor_signing.private_key())
    forged_same_kid = jwt.api_jws.encode(
        body,
        key=other,
        algorithm="RS256",
        headers={"kid": published_kid, "crit": ["b64"]},
        is_payload_detached=True,
    )
    # when
    unknown_key = deliver(client, body, forged)
    same_kid = deliver(
        client, body, {**forged, saleor_signing.SIGNATURE_HEADER: forged_same_kid}
    )
    # then
    assert unknown_key.status_code == same_kid.status_code == 401
    assert error_code(unknown_key) == error_code(same_kid) == "invalid_signature"
    assert not PriceChange.objects.exists()


def test_missing_or_malformed_signature_is_refused(db, client):
    body = payload()
    headers = saleor_signing.webhook_headers(body)
    del headers[saleor_signing.SIGNATURE_HEADER]
    attached = jwt_with_attached_payload(body)
    for signature in (None, "", "not-a-jws", attached, "x" * 5000):
        sent = dict(headers)
        if signature is not None:
            sent[saleor_signing.SIGNATURE_HEADER] = signature
        response = deliver(client, body, sent)
        assert response.status_code == 401, signature
        assert error_code(response) == "invalid_signature"
    assert not PriceChange.objects.exists()


def jwt_with_attached_payload(body: bytes) -> str:
    """Sign the body as a valid RS256 JWS, but not in Saleor's detached, unencoded form."""
    key = saleor_signing.private_key()
    return jwt.api_jws.encode(
        body, key=key, algorithm="RS256", headers={"kid": saleor_signing.key_id(key)}
    )


def test_other_event_is_refused_as_unsupported(db, client):
    # given a correctly signed delivery of an event the App does not subscribe to
    body = payload()
    headers = saleor_signing.webhook_headers(body, event="product_variant_updated")
    # when
    response = deliver(client, body, headers)
    # then
    assert response.status_code == 400
    assert error_code(response) == "unsupported_event"
    assert response.json()["error"]["field"] == "Saleor-Event"
    assert not PriceChange.objects.exists()


def test_event_header_is_case_insensitive(db, client):
    body = payload(7)
    headers = saleor_signing.webhook_headers(
        body, event="PRODUCT_VARIANT_DISCOUNTED_PRICE_UPDATED"
    )
    response = deliver(client, body, headers)
    assert response.status_code == 202
    assert PriceChange.objects.get().variant_id == "7"


def test_signed_bad_json_and_missing_fields_are_coded_400s(db, client):
    cases = [
        (b"{not json", "invalid_json", "body"),
        (b"[]", "invalid", "body"),
        (json.dumps({"channel": {"slug": "c"}}).encode(), "invalid", "productVariant"),
        (
            json.dumps({"productVariant": {"id": variant_global_id(1)}}).encode(),
            "invalid",
            "channel",
        ),
        (
            json.dumps(
                {"productVariant": {"id": 5}, "channel": {"slug": "c"}}
            ).encode(),
            "invalid",
            "productVariant.id",
        ),
        (
            json.dumps(
                {"productVariant": {"id": "%%%"}, "channel": {"slug": "c"}}
            ).encode(),
            "invalid",
            "productVariant.id",
        ),
        (
            json.dumps(
                {
                    "productVariant": {"id": base64.b64encode(b"Product:1").decode()},
                    "channel": {"slug": "c"},
                }
            ).encode(),
            "invalid",
            "productVariant.id",
        ),
        (
            json.dumps(
                {
                    "productVariant": {"id": variant_global_id(1)},
                    "channel": {"slug": ""},
                }
            ).encode(),
            "invalid",
            "channel.slug",
        ),
        (
            b'{"productVariant": {"id": "a\\u0000"}, "channel": {"slug": "c"}}',
            "invalid_characters",
            "productVariant",
        ),
    ]
    for body, code, field in cases:
        response = deliver(client, body, saleor_signing.webhook_headers(body))
        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == code, body
        assert response.json()["error"]["field"] == field, body
    assert not PriceChange.objects.exists()


def test_unsigned_bad_json_gets_the_signature_error_first(db, client):
    response = deliver(client, b"{not json", {})
    assert response.status_code == 401
    assert error_code(response) == "invalid_signature"


def test_oversized_body_and_get_are_refused(db, client):
    body = b" " * (64 * 1024 + 1)
    assert (
        deliver(client, body, saleor_signing.webhook_headers(body)).status_code == 413
    )
    response = client.get(SALEOR_WEBHOOK_URL)
    assert response.status_code == 405
    assert not PriceChange.objects.exists()


def test_sandbox_serves_the_key_the_plugin_verifies_with(db, client):
    # given a body signed by the sandbox
    body = payload()
    signature = saleor_signing.sign(body)
    # when a client fetches the sandbox's JWKS, as from Saleor's /.well-known/jwks.json
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    # then that key verifies the signature
    (jwk,) = keys
    assert jwk["kid"] == jwt.get_unverified_header(signature)["kid"]
    jwt.api_jws.decode_complete(
        signature,
        key=jwt.PyJWK(jwk).key,
        algorithms=["RS256"],
        detached_payload=body,
    )
