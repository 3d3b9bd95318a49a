"""HTTP handling of the plugin's GraphQL endpoint."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from graphql import GraphQLError, execute, validate
from graphql.error import format_error as format_graphql_error
from graphql.execution import ExecutionResult

from ..auth import AuthenticationFailed, resolve_requestor
from ..conf import SupportSettings
from ..core.http import (
    BadRequestBody,
    PayloadTooLarge,
    load_json,
    method_not_allowed,
    read_body,
)
from .context import SupportContext
from .limits import QueryRefused, check_limits, check_variables, parse_query
from .schema import schema

logger = logging.getLogger(__name__)


class _DeliberateErrorFilter(logging.Filter):
    """Drop graphql-core's traceback for a GraphQLError a resolver raised on purpose.

    graphql-core 2 logs every resolver exception with `logger.exception`; a
    GraphQLError is an answer to the client (a missing `first`, a staff-only
    sort), not our bug. Other exceptions stay logged (and `format_error` logs
    them too).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, GraphQLError)


logging.getLogger("graphql.execution.executor").addFilter(_DeliberateErrorFilter())

MAX_BODY_BYTES = 1024 * 1024
ALLOWED_METHODS = ("POST", "OPTIONS")
# `core.http` codes of refused bodies, in this endpoint's upper-case style.
BODY_ERROR_CODES = {
    "invalid_json": "INVALID_JSON",
    "too_deep": "JSON_TOO_DEEP",
    "invalid_characters": "INVALID_CHARACTERS",
    "invalid_content_length": "INVALID_CONTENT_LENGTH",
}


def graphql_error_response(status: int, code: str, message: str) -> JsonResponse:
    """Answer a GraphQL-shaped error for failures before execution starts."""
    return JsonResponse(
        {"errors": [{"message": message, "extensions": {"code": code}}]}, status=status
    )


def _parse_body(
    request: HttpRequest,
) -> tuple[dict[str, Any] | None, JsonResponse | None]:
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type.startswith("multipart/"):
        return None, graphql_error_response(
            415, "UNSUPPORTED_MEDIA_TYPE", "Send the query as application/json."
        )
    try:
        data = load_json(read_body(request, MAX_BODY_BYTES))
    except PayloadTooLarge:
        return None, graphql_error_response(
            413, "REQUEST_TOO_LARGE", "The request body is too large."
        )
    except BadRequestBody as exc:
        code = BODY_ERROR_CODES.get(exc.code, exc.code.upper())
        return None, graphql_error_response(400, code, exc.message)
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


def _error_payload(errors: list[Any], status: int) -> JsonResponse:
    return JsonResponse({"errors": [format_error(e) for e in errors]}, status=status)


def handle_graphql(request: HttpRequest, settings: SupportSettings) -> HttpResponse:
    if request.method == "OPTIONS":
        return HttpResponse(status=204, headers={"Allow": ", ".join(ALLOWED_METHODS)})
    if request.method != "POST":
        return method_not_allowed(ALLOWED_METHODS)
    data, error_response = _parse_body(request)
    if error_response is not None:
        return error_response
    assert data is not None
    variables = data.get("variables") or {}
    # Every check before execution is linear in the document and needs no
    # database, so it runs before the token is looked up.
    try:
        document = parse_query(data["query"])
        operation = check_limits(document, variables, data.get("operationName"))
    except QueryRefused as exc:
        return graphql_error_response(400, exc.code, exc.message)
    except GraphQLError as exc:
        return _error_payload([exc], 400)
    try:
        requestor = resolve_requestor(request)
    except AuthenticationFailed as exc:
        return graphql_error_response(401, "INVALID_TOKEN", str(exc))
    try:
        validation_errors = validate(schema, document)
    except RecursionError:
        return graphql_error_response(
            400, "QUERY_TOO_DEEP", "The query is nested too deeply."
        )
    if validation_errors:
        return _error_payload(validation_errors, 400)
    try:
        check_variables(schema, operation, variables)
    except QueryRefused as exc:
        return graphql_error_response(400, exc.code, exc.message)
    context = SupportContext(request=request, requestor=requestor, settings=settings)
    try:
        result = execute(
            schema,
            document,
            variable_values=variables,
            operation_name=operation.name.value if operation.name else None,
            context_value=context,
        )
    except GraphQLError as exc:
        # Raised before any resolver runs: variables graphql-core refuses.
        return _error_payload([exc], 400)
    except RecursionError:
        return graphql_error_response(
            400, "QUERY_TOO_DEEP", "The query is nested too deeply."
        )
    assert isinstance(result, ExecutionResult)  # no return_promise: never a Promise
    payload: dict[str, Any] = {}
    if result.errors:
        payload["errors"] = [format_error(error) for error in result.errors]
    payload["data"] = result.data
    return JsonResponse(payload, status=200)
