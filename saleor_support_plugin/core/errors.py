"""Error codes the plugin's API answers with (GraphQL `errors { field code message }`)."""

from __future__ import annotations

from enum import StrEnum

from django.core.exceptions import ValidationError


class SupportErrorCode(StrEnum):
    GRAPHQL_ERROR = "graphql_error"
    INVALID = "invalid"
    REQUIRED = "required"
    TOO_LONG = "too_long"
    NOT_FOUND = "not_found"
    PERMISSION_DENIED = "permission_denied"
    INVALID_STATUS = "invalid_status"
    REOPEN_WINDOW_EXPIRED = "reopen_window_expired"
    FEATURE_DISABLED = "feature_disabled"
    RATE_LIMITED = "rate_limited"
    # Price protection
    OUTSIDE_WINDOW = "outside_window"
    EXCLUDED_PRODUCT = "excluded_product"
    PRICE_NOT_LOWER = "price_not_lower"
    CURRENCY_MISMATCH = "currency_mismatch"
    INVALID_URL = "invalid_url"
    OTHER_SHOP_NOT_ACCEPTED = "other_shop_not_accepted"
    DUPLICATE_CLAIM = "duplicate_claim"
    AMOUNT_TOO_HIGH = "amount_too_high"
    NOTHING_TO_REFUND = "nothing_to_refund"
    # Surveys
    INVALID_TOKEN = "invalid_token"
    EXPIRED = "expired"
    ALREADY_SUBMITTED = "already_submitted"
    OUT_OF_RANGE = "out_of_range"


def error(field: str | None, message: str, code: SupportErrorCode) -> ValidationError:
    """One coded error on one field (None: the whole request), as Saleor raises them."""
    return ValidationError(
        {field or "__all__": ValidationError(message, code=code.value)}
    )


class PermissionDenied(Exception):
    """The caller may not do this (staff without the permission, customers on staff fields)."""

    code = SupportErrorCode.PERMISSION_DENIED
