"""The plugin's configuration: field definitions, validation and typed settings.

Saleor stores every configuration value as a string (only booleans are
converted), so numbers, addresses and URLs are parsed and checked here, once.
The rest of the code receives a `SupportSettings` and never reads raw
configuration dictionaries.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

logger = logging.getLogger(__name__)


class FieldType(Enum):
    """Names mirror Saleor's `ConfigurationTypeField`; plugin.py maps them by name."""

    STRING = "String"
    MULTILINE = "Multiline"
    BOOLEAN = "Boolean"
    SECRET = "Secret"
    SECRET_MULTILINE = "SecretMultiline"
    PASSWORD = "Password"
    OUTPUT = "OUTPUT"


class ConfigErrorCode(Enum):
    INVALID = "invalid"
    REQUIRED = "required"


class Secret:
    """A value that never shows itself in logs, reprs or API output."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return "Secret('****')" if self._value else "Secret('')"

    __str__ = __repr__


# --- parsers: raw string -> typed value, raising ValueError with a merchant-readable message


def _parse_bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", ""}:
        return False
    raise ValueError("Enter true or false.")


def _non_negative_int(raw: Any) -> int:
    text = str(raw).strip()
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"Enter a whole number, not {text!r}.") from None
    if value < 0:
        raise ValueError("Enter a number that is zero or more.")
    return value


def _positive_int(raw: Any) -> int:
    value = _non_negative_int(raw)
    if value == 0:
        raise ValueError("Enter a number greater than zero.")
    return value


def _text(raw: Any) -> str:
    return "" if raw is None else str(raw).strip()


def _optional_email(raw: Any) -> str:
    text = _text(raw)
    if text:
        try:
            validate_email(text)
        except ValidationError:
            raise ValueError(f"{text!r} is not a valid email address.") from None
    return text


def _email_list(raw: Any) -> tuple[str, ...]:
    text = _text(raw)
    addresses = [
        part.strip() for part in text.replace(";", ",").replace("\n", ",").split(",")
    ]
    result = []
    for address in addresses:
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValueError(f"{address!r} is not a valid email address.") from None
        result.append(address)
    return tuple(dict.fromkeys(result))


SMTP_SCHEMES = {"smtp", "smtps", "submission"}


def _smtp_url(raw: Any) -> Secret:
    text = _text(raw)
    if text:
        parts = urlsplit(text)
        if parts.scheme not in SMTP_SCHEMES:
            raise ValueError(
                "Use a URL such as smtp://user:password@mail.example.com:587/?tls=true "
                "(schemes: smtp, smtps, submission)."
            )
        try:
            port = parts.port
        except ValueError:
            raise ValueError(
                "The port in the SMTP URL must be a number from 1 to 65535."
            ) from None
        if not parts.hostname:
            raise ValueError("The SMTP URL has no host name.")
        if port == 0:
            raise ValueError(
                "The port in the SMTP URL must be a number from 1 to 65535."
            )
        query = {key.lower(): values for key, values in parse_qs(parts.query).items()}
        for flag in ("tls", "ssl"):
            for value in query.get(flag, []):
                _parse_bool(value)
    return Secret(text)


@dataclass(frozen=True)
class ConfigField:
    name: str
    type: FieldType
    default: Any
    label: str
    help_text: str
    parse: Callable[[Any], Any]


FIELDS: tuple[ConfigField, ...] = (
    ConfigField(
        "proactive_updates_enabled",
        FieldType.BOOLEAN,
        True,
        "Proactive order updates",
        "Email customers when their order is confirmed, shipped, delayed, out for "
        "delivery, delivered, cancelled, returned or refunded.",
        _parse_bool,
    ),
    ConfigField(
        "price_protection_enabled",
        FieldType.BOOLEAN,
        False,
        "Price protection",
        "Refund the difference when a product a customer bought gets cheaper within "
        "the price-protection window.",
        _parse_bool,
    ),
    ConfigField(
        "surveys_enabled",
        FieldType.BOOLEAN,
        False,
        "Satisfaction surveys",
        "Send CSAT and NPS surveys after delivery and after a ticket is solved; a low "
        "score opens a follow-up ticket.",
        _parse_bool,
    ),
    ConfigField(
        "tickets_enabled",
        FieldType.BOOLEAN,
        True,
        "Support tickets",
        "Let customers open support tickets from the storefront and by email.",
        _parse_bool,
    ),
    ConfigField(
        "sender_name",
        FieldType.STRING,
        "Customer Support",
        "Sender name",
        "The name customers see in the From field of support emails.",
        _text,
    ),
    ConfigField(
        "sender_address",
        FieldType.STRING,
        "",
        "Sender email address",
        "The address support emails are sent from. Leave empty to use the store's "
        "default sender (DEFAULT_FROM_EMAIL).",
        _optional_email,
    ),
    ConfigField(
        "smtp_url",
        FieldType.SECRET,
        "",
        "SMTP server URL",
        "Where support emails are sent, e.g. "
        "smtp://user:password@mail.example.com:587/?tls=true. Leave empty to use the "
        "store's own email settings.",
        _smtp_url,
    ),
    ConfigField(
        "support_staff_addresses",
        FieldType.STRING,
        "",
        "Support team addresses",
        "Comma-separated email addresses notified about new tickets and SLA breaches.",
        _email_list,
    ),
    ConfigField(
        "delay_threshold_days",
        FieldType.STRING,
        "2",
        "Ship-by target (business days)",
        "An order not shipped this many business days after it was placed gets a "
        "'delayed' update.",
        _non_negative_int,
    ),
    ConfigField(
        "price_protection_window_days",
        FieldType.STRING,
        "30",
        "Price-protection window (days)",
        "How many days after purchase a price drop is refunded.",
        _positive_int,
    ),
    ConfigField(
        "survey_delay_days",
        FieldType.STRING,
        "7",
        "Survey delay (days)",
        "How many days after delivery the satisfaction survey is sent.",
        _non_negative_int,
    ),
    ConfigField(
        "sla_first_response_hours",
        FieldType.STRING,
        "24",
        "First response target (business hours)",
        "A ticket without a staff reply after this many business hours breaches its SLA.",
        _positive_int,
    ),
    ConfigField(
        "sla_resolution_hours",
        FieldType.STRING,
        "72",
        "Resolution target (business hours)",
        "A ticket not solved after this many business hours breaches its SLA.",
        _positive_int,
    ),
)

FIELDS_BY_NAME: dict[str, ConfigField] = {field.name: field for field in FIELDS}


def default_configuration() -> list[dict[str, Any]]:
    """Return Saleor's DEFAULT_CONFIGURATION shape: `[{"name", "value"}]`."""
    return [{"name": field.name, "value": field.default} for field in FIELDS]


def configuration_to_dict(
    configuration: Iterable[Mapping[str, Any]] | Mapping[str, Any],
) -> dict[str, Any]:
    """Accept Saleor's list of `{"name", "value"}` items or a plain mapping."""
    if isinstance(configuration, Mapping):
        return dict(configuration)
    return {item["name"]: item.get("value") for item in configuration if "name" in item}


def validate_configuration(
    configuration: Iterable[Mapping[str, Any]] | Mapping[str, Any],
) -> None:
    """Raise a ValidationError keyed by field name for every bad value."""
    values = configuration_to_dict(configuration)
    errors: dict[str, ValidationError] = {}
    for name, raw in values.items():
        field = FIELDS_BY_NAME.get(name)
        if field is None or raw is None:
            continue
        try:
            field.parse(raw)
        except ValueError as exc:
            errors[name] = ValidationError(
                f"{field.label}: {exc}", code=ConfigErrorCode.INVALID.value
            )
    if errors:
        raise ValidationError(errors)


@dataclass(frozen=True)
class SupportSettings:
    """The plugin's settings, parsed once from the stored configuration."""

    active: bool = False
    proactive_updates_enabled: bool = True
    price_protection_enabled: bool = False
    surveys_enabled: bool = False
    tickets_enabled: bool = True
    sender_name: str = "Customer Support"
    sender_address: str = ""
    smtp_url: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    support_staff_addresses: tuple[str, ...] = ()
    delay_threshold_days: int = 2
    price_protection_window_days: int = 30
    survey_delay_days: int = 7
    sla_first_response_hours: int = 24
    sla_resolution_hours: int = 72


def parse_settings(
    configuration: Iterable[Mapping[str, Any]] | Mapping[str, Any], *, active: bool
) -> SupportSettings:
    """Build settings from stored configuration; never raises.

    Stored values were validated when saved. A value that is bad anyway (edited in
    the database, left from an older version) falls back to its default and is
    logged by field name, never by value, because values may be secrets.
    """
    values = configuration_to_dict(configuration)
    parsed: dict[str, Any] = {"active": active}
    for field in FIELDS:
        raw = values.get(field.name)
        if raw is None:
            raw = field.default
        try:
            parsed[field.name] = field.parse(raw)
        except ValueError:
            logger.warning(
                "Invalid stored value for %s; using the default.", field.name
            )
            parsed[field.name] = field.parse(field.default)
    return SupportSettings(**parsed)


def configuration_reference_markdown() -> str:
    """Render the configuration reference of the README from FIELDS."""
    rows = [
        "| Field | Label | Type | Default | What it does |",
        "| --- | --- | --- | --- | --- |",
    ]
    for field in FIELDS:
        if isinstance(field.default, bool):
            default = str(field.default).lower()
        else:
            default = str(field.default) or "(empty)"
        rows.append(
            f"| `{field.name}` | {field.label} | {field.type.name} | {default} | {field.help_text} |"
        )
    return "\n".join(rows)
