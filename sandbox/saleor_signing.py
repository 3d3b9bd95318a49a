"""The sandbox plays Saleor's webhook signer: its own RSA key, its JWKS, and JWS signatures made as Saleor makes them.

Saleor signs a webhook body with `JWTManager.jws_encode` (saleor/core/jwt_manager.py):
a detached-payload JWS, RS256, header `{alg, b64: false, crit: ["b64"], kid, typ}`,
`kid` the RFC 7638 thumbprint of the public key. The key lives in the sandbox
runtime directory, made on first use (as Saleor's DEBUG key is); tests use it too.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.http import HttpRequest, JsonResponse
from jwt.algorithms import RSAAlgorithm

from .services.paths import runtime_dir

KEY_FILE = "saleor_webhook_key.pem"
EVENT_HEADER = "Saleor-Event"
SIGNATURE_HEADER = "Saleor-Signature"


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def private_key() -> rsa.RSAPrivateKey:
    """Return the sandbox's signing key, written once to the runtime directory and then reused."""
    path = runtime_dir() / KEY_FILE
    if not path.exists():
        pem = generate_private_key().private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.TraditionalOpenSSL,
            encryption_algorithm=serialization.NoEncryption(),
        )
        # Written aside and renamed: parallel test runs never read half a key.
        temporary = path.with_name(f"{KEY_FILE}.{os.getpid()}")
        temporary.write_bytes(pem)
        temporary.chmod(0o600)
        os.replace(temporary, path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def key_id(key: rsa.RSAPrivateKey) -> str:
    """RFC 7638 thumbprint of the public key, as Saleor's `get_key_id`."""
    numbers = key.public_key().public_numbers()
    members = {
        "e": _b64_uint(numbers.e),
        "kty": "RSA",
        "n": _b64_uint(numbers.n),
    }
    digest = hashlib.sha256(
        json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    ).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _b64_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, Any]:
    jwk: dict[str, Any] = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"use": "sig", "kid": key_id(key), "alg": "RS256"})
    return jwk


def signing_keys() -> list[dict[str, Any]]:
    """Return the public keys the plugin verifies Saleor webhooks with (the sandbox port)."""
    return [public_jwk(private_key())]


def sign(body: bytes, key: rsa.RSAPrivateKey | None = None) -> str:
    """Sign `body` for `Saleor-Signature`: return what `JWTManager.jws_encode(body)` returns."""
    key = key or private_key()
    return jwt.api_jws.encode(
        body,
        key=key,
        algorithm="RS256",
        headers={"kid": key_id(key), "crit": ["b64"]},
        is_payload_detached=True,
    )


def webhook_headers(
    body: bytes,
    *,
    event: str = "product_variant_discounted_price_updated",
    key: rsa.RSAPrivateKey | None = None,
    domain: str = "sandbox.example.com",
) -> dict[str, str]:
    """Return the headers Saleor's HTTP transport sends with an App webhook (saleor/webhook/transport/utils.py)."""
    return {
        EVENT_HEADER: event,
        "Saleor-Domain": domain,
        SIGNATURE_HEADER: sign(body, key),
        "Saleor-Api-Url": f"https://{domain}/graphql/",
    }


def jwks_view(request: HttpRequest) -> JsonResponse:
    """`/.well-known/jwks.json`, as Saleor serves it."""
    return JsonResponse({"keys": signing_keys()})
