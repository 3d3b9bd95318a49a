"""Shared GraphQL building blocks: errors, enums from choices, connections, mutations."""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

import graphene
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from graphql_relay import from_global_id, to_global_id

from ..core.errors import PermissionDenied, SupportErrorCode

MAX_PAGE_SIZE = 100

ERROR_DESCRIPTIONS = {
    SupportErrorCode.GRAPHQL_ERROR: "The request itself is invalid.",
    SupportErrorCode.INVALID: "A value is not valid.",
    SupportErrorCode.REQUIRED: "A value is missing.",
    SupportErrorCode.TOO_LONG: "A value is too long.",
    SupportErrorCode.NOT_FOUND: "The object does not exist or is not yours.",
    SupportErrorCode.PERMISSION_DENIED: "The caller may not do this.",
    SupportErrorCode.INVALID_STATUS: "Not possible in the object's current status.",
    SupportErrorCode.REOPEN_WINDOW_EXPIRED: "Too late to reopen; open a new ticket.",
    SupportErrorCode.FEATURE_DISABLED: "The merchant switched this feature off.",
    SupportErrorCode.RATE_LIMITED: "Too many attempts; wait and try again.",
    SupportErrorCode.OUTSIDE_WINDOW: "The order is older than the price-protection window.",
    SupportErrorCode.EXCLUDED_PRODUCT: "The product is not covered by price protection.",
    SupportErrorCode.PRICE_NOT_LOWER: "The price shown is not lower than the price paid.",
    SupportErrorCode.CURRENCY_MISMATCH: "The currency differs from the order's.",
    SupportErrorCode.INVALID_URL: "Not an http(s) address.",
    SupportErrorCode.OTHER_SHOP_NOT_ACCEPTED: "The store refunds only its own lower prices.",
    SupportErrorCode.DUPLICATE_CLAIM: "A claim for this order line is already open.",
    SupportErrorCode.AMOUNT_TOO_HIGH: "More than what is refundable.",
    SupportErrorCode.NOTHING_TO_REFUND: "Nothing is left to refund.",
    SupportErrorCode.INVALID_TOKEN: "The link or token is not valid (forged, or not for this).",
    SupportErrorCode.EXPIRED: "The link or token has expired.",
    SupportErrorCode.ALREADY_SUBMITTED: "The answer was already submitted.",
    SupportErrorCode.OUT_OF_RANGE: "The value is outside the allowed range.",
}
SupportErrorCodeEnum = graphene.Enum(
    "SupportErrorCode",
    [(code.name, code.value) for code in SupportErrorCode],
    description=lambda member: (
        "Why a support mutation failed."
        if member is None
        else ERROR_DESCRIPTIONS[SupportErrorCode(member.value)]
    ),
)


class SupportError(graphene.ObjectType):
    field = graphene.String(
        description="The input field the error is about (camelCase); null: the whole request."
    )
    code = graphene.Field(
        SupportErrorCodeEnum, required=True, description="Machine-readable error code."
    )
    message = graphene.String(required=True, description="What went wrong, for people.")

    class Meta:
        description = "An error of a support mutation."


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def errors_from(exc: ValidationError | PermissionDenied) -> list[SupportError]:
    if isinstance(exc, PermissionDenied):
        return [
            SupportError(
                field=None,
                code=SupportErrorCode.PERMISSION_DENIED.value,
                message="You do not have permission to do this.",
            )
        ]
    errors = []
    for field, field_errors in (
        exc.error_dict.items()
        if hasattr(exc, "error_dict")
        else [(None, exc.error_list)]
    ):
        for item in field_errors:
            errors.append(
                SupportError(
                    field=_camel(field) if field and field != "__all__" else None,
                    code=item.code or SupportErrorCode.INVALID.value,
                    message=" ".join(item.messages),
                )
            )
    return errors


def described_enum(
    name: str, values: dict[str, str], description: str
) -> type[graphene.Enum]:
    """Build a graphene Enum whose type and every value carry a description."""
    return graphene.Enum(
        name,
        [(value.upper(), value) for value in values],
        description=lambda member: (
            description if member is None else values[member.value]
        ),
    )


def enum_from_choices(name: str, choices: Any, description: str) -> type[graphene.Enum]:
    return described_enum(
        name, {value: f"{label}." for value, label in choices.choices}, description
    )


def global_id(type_name: str, pk: Any) -> str:
    return to_global_id(type_name, str(pk))


# Saleor's users have integer keys; every other object here (Saleor's orders,
# the plugin's own rows) has a UUID.
INTEGER_ID_TYPES = frozenset({"User"})
MAX_INTEGER_ID = 2**63 - 1


def _canonical_pk(type_name: str, pk: str) -> str | None:
    if type_name in INTEGER_ID_TYPES:
        if pk.isascii() and pk.isdigit() and 0 < int(pk) <= MAX_INTEGER_ID:
            return str(int(pk))
        return None
    try:
        return str(uuid.UUID(pk))
    except ValueError:
        return None


def decode_id(value: str | None, type_name: str) -> str | None:
    """Return the pk inside a global ID of `type_name`; None when malformed or of another type.

    A well-formed global ID can still carry any text: the pk is checked to be
    of the kind the type's table holds, so it never reaches a query as garbage.
    """
    if not value or len(value) > 200:
        return None
    try:
        decoded_type, pk = from_global_id(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if decoded_type == type_name and pk:
        return _canonical_pk(type_name, pk)
    return None


class CountableConnection(graphene.relay.Connection):
    total_count = graphene.Int(
        description="Number of items matching the query, over all pages."
    )

    class Meta:
        abstract = True


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _offset(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        kind, _, value = base64.b64decode(cursor).decode().partition(":")
        return int(value) if kind == "offset" else None
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


class PaginationError(Exception):
    pass


def paginate(
    queryset: QuerySet,
    connection_type: Any,
    *,
    first=None,
    last=None,
    after=None,
    before=None,
) -> Any:
    """Relay pagination over a queryset: one COUNT and one page query."""
    if first is None and last is None:
        raise PaginationError("Pass `first` or `last` (at most 100).")
    for value in (first, last):
        if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
            raise PaginationError(
                f"`first` and `last` must be between 0 and {MAX_PAGE_SIZE}."
            )
    after_offset, before_offset = _offset(after), _offset(before)
    if (after and after_offset is None) or (before and before_offset is None):
        raise PaginationError("The cursor is not valid.")
    total = queryset.count()
    start, end = 0, total
    if after_offset is not None:
        start = max(start, after_offset + 1)
    if before_offset is not None:
        end = min(end, before_offset)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    items = list(queryset[start:end]) if end > start else []
    edges = [
        connection_type.Edge(node=item, cursor=_cursor(start + index))
        for index, item in enumerate(items)
    ]
    page_info = graphene.relay.PageInfo(
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
        has_previous_page=start > 0,
        has_next_page=end < total,
    )
    return connection_type(edges=edges, page_info=page_info, total_count=total)
