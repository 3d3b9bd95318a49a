"""JSON responses and request-body reading shared by every route of the plugin."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse


class PayloadTooLarge(Exception):
    pass


class BadRequestBody(ValueError):
    """A request body a client sent that we refuse; `code` and `field` go to the client."""

    def __init__(self, code: str, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


def read_body(request: HttpRequest, limit: int) -> bytes:
    """Read the body, refusing more than `limit` bytes before reading when the length is announced.

    A Content-Length that is not a number is the client's error, not ours.
    """
    raw_length = request.META.get("CONTENT_LENGTH") or "0"
    try:
        announced = int(raw_length)
    except ValueError:
        raise BadRequestBody(
            "invalid_content_length", "Content-Length must be a number of bytes."
        ) from None
    if announced < 0:
        raise BadRequestBody(
            "invalid_content_length", "Content-Length must be a number of bytes."
        )
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


# Nothing the plugin accepts is nested this deep; deeper bodies are refused
# before they reach code that recurses over them.
MAX_JSON_DEPTH = 32


def _bad_string(value: str) -> bool:
    """NUL (PostgreSQL refuses it in text) or a lone surrogate (not encodable text)."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_json_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse values nested deeper than `max_depth` or holding unstorable text; linear, no recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _bad_string(item):
                raise BadRequestBody(
                    "invalid_characters",
                    "Text may not contain NUL characters or unpaired surrogates.",
                )
            continue
        if isinstance(item, dict | list):
            if depth >= max_depth:
                raise BadRequestBody(
                    "too_deep", f"JSON is nested deeper than {max_depth} levels."
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    stack.append((key, depth + 1))
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def load_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode a JSON body a client sent; every failure is a `BadRequestBody`, never a 500."""
    try:
        data = json.loads(body or b"null")
    except RecursionError:
        # The C decoder recurses per level: refuse instead of crashing.
        raise BadRequestBody(
            "too_deep", f"JSON is nested deeper than {max_depth} levels."
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequestBody("invalid_json", "The body is not valid JSON.") from None
    check_json_value(data, max_depth=max_depth)
    return data
