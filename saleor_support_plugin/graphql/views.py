"""HTTP handling of the plugin's GraphQL endpoint."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from graphql import GraphQLError, parse
from graphql.error import format_error as format_graphql_error

from ..auth import AuthenticationFailed, resolve_requestor
from ..conf import SupportSettings
from ..core.http import PayloadTooLarge, method_not_allowed, read_body
from .context import SupportContext
from .limits import QueryTooExpensive, check_limits
from .schema import schema

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
ALLOWED_METHODS = ("POST", "OPTIONS")


def graphql_error_response(status: int, code: str, message: str) -> JsonResponse:
    """Answer a GraphQL-shaped error for failures before execution starts."""
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
    )


def _parse_body(
    request: HttpRequest,
) -> tuple[dict[str, Any] | None, JsonResponse | None]:
    try:
        body = read_body(request, MAX_BODY_BYTES)
    except PayloadTooLarge:
        return None, graphql_error_response(
            413, "REQUEST_TOO_LARGE", "The request body is too large."
        )
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        return None, graphql_error_response(
            415, "UNSUPPORTED_MEDIA_TYPE", "Send the query as application/json."
        )
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None, graphql_error_response(
            400, "INVALID_JSON", "The request body is not valid JSON."
        )
    if not isinstance(data, dict):
        return None, graphql_error_response(
            400, "INVALID_REQUEST", "Send a JSON object with a `query` string."
        )
    query = data.get("query")
    variables = data.get("variables")
    operation_name = data.get("operationName")
    if not isinstance(query, str) or not query.strip():
        return None, graphql_error_response(
            400, "INVALID_REQUEST", "The `query` string is missing."
        )
    if variables is not None and not isinstance(variables, dict):
        return None, graphql_error_response(
            400, "INVALID_REQUEST", "`variables` must be a JSON object."
        )
    if operation_name is not None and not isinstance(operation_name, str):
        return None, graphql_error_response(
            400, "INVALID_REQUEST", "`operationName` must be a string."
        )
    return data, None


def format_error(error: Exception) -> dict[str, Any]:
    """Format an execution error without leaking internals.

    GraphQL errors (syntax, validation, explicit GraphQLError) are the client's
    business; anything else is our bug: logged in full, answered generically.
    """
    original = getattr(error, "original_error", None)
    if isinstance(error, GraphQLError) and (
        original is None or isinstance(original, GraphQLError)
    ):
        formatted = format_graphql_error(error)
        formatted.setdefault("extensions", {}).setdefault("code", "GRAPHQL_ERROR")
        return formatted
    logger.error("Unhandled error in support GraphQL", exc_info=original or error)
    formatted = {
        "message": "Internal server error.",
        "extensions": {"code": "INTERNAL_ERROR"},
    }
    if isinstance(error, GraphQLError):
        formatted["locations"] = format_graphql_error(error).get("locations")
        formatted["path"] = error.path
    return formatted


def handle_graphql(request: HttpRequest, settings: SupportSettings) -> HttpResponse:
    if request.method == "OPTIONS":
        return HttpResponse(status=204, headers={"Allow": ", ".join(ALLOWED_METHODS)})
    if request.method != "POST":
        return method_not_allowed(ALLOWED_METHODS)
    data, error_response = _parse_body(request)
    if error_response is not None:
        return error_response
    assert data is not None
    try:
        requestor = resolve_requestor(request)
    except AuthenticationFailed as exc:
        return graphql_error_response(401, "INVALID_TOKEN", str(exc))
    try:
        document = parse(data["query"])
    except GraphQLError as exc:
        return JsonResponse({"errors": [format_error(exc)]}, status=400)
    try:
        check_limits(document, data.get("variables"))
    except QueryTooExpensive as exc:
        return graphql_error_response(400, exc.code, exc.message)
    context = SupportContext(request=request, requestor=requestor, settings=settings)
    result = schema.execute(
        document,
        variable_values=data.get("variables") or {},
        operation_name=data.get("operationName"),
        context_value=context,
    )
    payload: dict[str, Any] = {}
    if result.errors:
        payload["errors"] = [format_error(error) for error in result.errors]
    if not result.invalid:
        payload["data"] = result.data
    return JsonResponse(payload, status=400 if result.invalid else 200)
