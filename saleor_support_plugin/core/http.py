"""JSON responses and request-body reading shared by every route of the plugin."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse


class PayloadTooLarge(Exception):
    pass


def read_body(request: HttpRequest, limit: int) -> bytes:
    """Read the body, refusing more than `limit` bytes before reading when the length is announced."""
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > limit:
        raise PayloadTooLarge
    try:
        body = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge from None
    if len(body) > limit:
        raise PayloadTooLarge
    return body


def json_error(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """Answer `{"error": {"code", "message", "field"}}`: coded, no internals."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return JsonResponse({"error": error}, status=status, headers=headers)


def method_not_allowed(allowed: Iterable[str]) -> JsonResponse:
    allow = ", ".join(sorted(allowed))
    return json_error(
        405, "method_not_allowed", f"Use one of: {allow}.", headers={"Allow": allow}
    )


def not_found(message: str = "Not found.") -> JsonResponse:
    return json_error(404, "not_found", message)
