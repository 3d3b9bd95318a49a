"""The plugin's configuration: field definitions, validation and typed settings.

Saleor stores every configuration value as a string (only booleans are
converted), so numbers, addresses and URLs are parsed and checked here, once.
The rest of the code receives a `SupportSettings` and never reads raw
configuration dictionaries.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from .core import handlebars
from .core.handlebars import Template, TemplateSyntaxError
from .notifications.kinds import (
    PRICE_KINDS,
    SURVEY_KINDS,
    TICKET_KINDS,
    NotificationKind,
)

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


def _template_text(raw: Any) -> str:
    return "" if raw is None else str(raw)


# The top-level variables each kind of template is rendered with (see
# notifications/context.py, tickets/notifications.py, tickets/sla.py); a template
# may read nothing else.
ORDER_EMAIL_VARIABLES = (
    "order",
    "fulfillment",
    "carrier",
    "delay",
    "refund",
    "return",
    "store",
    "unsubscribe_url",
)
TICKET_EMAIL_VARIABLES = (
    "ticket",
    "customer",
    "message",
    "order",
    "customer_email",
    "store",
    "ticket_url",
    "reply_to",
)
SLA_BREACH_EMAIL_VARIABLES = ("ticket", "breach", "order", "customer_email")
PRICE_EMAIL_VARIABLES = ("order", "claim", "store")
SURVEY_EMAIL_VARIABLES = ("order", "ticket", "survey", "store", "unsubscribe_url")
# metrics/report.py: the figures, topics and lowest-rated tickets, and the charts
# (each with its cid: and alt text).
WEEKLY_REPORT_EMAIL_VARIABLES = ("report", "charts", "store")
TRACKING_URL_VARIABLES = ("tracking_number", "carrier")
TICKET_URL_VARIABLES = ("ticket_id", "number", "token")
# The message's HTML is sanitized when it is stored: the one value a merchant's
# template may insert unescaped, with {{{message.html}}}.
TICKET_RAW_VARIABLES = ("message.html",)


@dataclass(frozen=True)
class TemplateRules:
    """What a template setting may use: its variables and the ones it may insert raw."""

    variables: tuple[str, ...]
    raw: tuple[str, ...] = ()

    def describe(self) -> str:
        text = f"Variables: {', '.join(self.variables)}."
        if self.raw:
            text += " " + ", ".join(f"{{{{{{{name}}}}}}}" for name in self.raw)
            text += " inserts the message's sanitized HTML."
        return text


def email_template_rules(kind: NotificationKind) -> TemplateRules:
    """Tell what an email body of this kind may use (a subject: its variables, none raw)."""
    if kind is NotificationKind.TICKET_SLA_BREACH:
        return TemplateRules(SLA_BREACH_EMAIL_VARIABLES)
    if kind in TICKET_KINDS:
        return TemplateRules(TICKET_EMAIL_VARIABLES, TICKET_RAW_VARIABLES)
    if kind in PRICE_KINDS:
        return TemplateRules(PRICE_EMAIL_VARIABLES)
    if kind in SURVEY_KINDS:
        return TemplateRules(SURVEY_EMAIL_VARIABLES)
    if kind is NotificationKind.WEEKLY_REPORT:
        return TemplateRules(WEEKLY_REPORT_EMAIL_VARIABLES)
    return TemplateRules(ORDER_EMAIL_VARIABLES)


# Every template setting, by field name.
TEMPLATE_RULES: dict[str, TemplateRules] = {
    "tracking_url_template": TemplateRules(TRACKING_URL_VARIABLES),
    "ticket_url_template": TemplateRules(TICKET_URL_VARIABLES),
    **{
        f"{kind.value}_subject": TemplateRules(email_template_rules(kind).variables)
        for kind in NotificationKind
    },
    **{
        f"{kind.value}_template": email_template_rules(kind)
        for kind in NotificationKind
    },
}


DEFAULT_SENDER_NAME = "Customer Support"

# What each switch sends, to whom; ticket emails do not depend on proactive order updates.
_KIND_SWITCH_HELP = {
    NotificationKind.TICKET_REPLY: "Email the customer each public staff reply to their "
    "ticket (needs support tickets on; independent of proactive order updates).",
    NotificationKind.TICKET_CREATED: "Email staff (the assignee, else the support staff "
    "addresses) when a ticket is opened (needs support tickets on).",
    NotificationKind.TICKET_CUSTOMER_REPLY: "Email staff (the assignee, else the support "
    "staff addresses) when a customer replies (needs support tickets on).",
    NotificationKind.TICKET_SLA_BREACH: "Email staff (the assignee, else the support "
    "staff addresses) when a ticket misses its SLA target (needs support tickets on).",
    NotificationKind.PRICE_REFUNDED: "Email the customer when price protection refunds a "
    "price difference (needs price protection on; not affected by the opt-out).",
    NotificationKind.PRICE_CLAIM_RECEIVED: "Confirm to the customer that their price claim "
    "was received and is being reviewed (needs price protection on).",
    NotificationKind.PRICE_CLAIM_REJECTED: "Tell the customer their price claim was "
    "rejected, with the reason staff gave (needs price protection on).",
    NotificationKind.PRICE_REFUND_MANUAL: "Email the support staff addresses when a price "
    "refund cannot be made automatically and must be made by hand.",
    NotificationKind.SURVEY_NPS: "Email customers the purchase survey (0–10 scores as "
    "one-click links) after delivery (needs surveys on; respects the opt-out).",
    NotificationKind.SURVEY_CSAT: "Email customers the ticket survey (1–5 scores as "
    "one-click links) after their ticket is solved (needs surveys on; respects the opt-out).",
    NotificationKind.WEEKLY_REPORT: "Email the support staff addresses the weekly service "
    "report (needs the weekly report on; independent of proactive order updates).",
}


def _kind_switch_help(kind: NotificationKind) -> str:
    return _KIND_SWITCH_HELP.get(
        kind,
        f"Email customers the '{kind.label}' update (needs proactive order updates on).",
    )


def _built_in_language(kind: NotificationKind) -> str:
    staff = (
        kind in TICKET_KINDS and kind is not NotificationKind.TICKET_REPLY
    ) or kind in (NotificationKind.PRICE_REFUND_MANUAL, NotificationKind.WEEKLY_REPORT)
    return "in English" if staff else "in the order's language"


def parse_template(source: str, rules: TemplateRules) -> Template:
    """Parse a template setting under its rules; raises TemplateSyntaxError."""
    return handlebars.parse(source, allowed_roots=rules.variables, allow_raw=rules.raw)


def _template_check(rules: TemplateRules) -> Callable[[Any], str]:
    """Validate a template the merchant saves (parsing waits for the first email)."""

    def check(raw: Any) -> str:
        text = _template_text(raw)
        if text.strip():
            try:
                parse_template(text, rules)
            except TemplateSyntaxError as exc:
                raise ValueError(f"The template does not compile: {exc}") from None
        return text

    return check


def stored_template(name: str, source: str) -> Template | None:
    """Parse the template stored in setting `name`; None when empty or no longer valid.

    Saved templates were validated; one saved before the rules got stricter is
    skipped with a warning, so the built-in template (or no link) is used instead.
    """
    if not source.strip():
        return None
    try:
        return parse_template(source, TEMPLATE_RULES[name])
    except TemplateSyntaxError as exc:
        logger.warning(
            "The stored %s is not a valid template (%s); using the built-in one.",
            name,
            exc,
        )
        return None


def _networks(
    raw: Any,
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    result = []
    for part in _text(raw).replace(";", ",").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            result.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(
                f"{part!r} is not an IP address or network such as 10.0.0.0/8."
            ) from None
    return tuple(dict.fromkeys(result))


def _http_url(raw: Any) -> str:
    text = _text(raw)
    if text:
        parts = urlsplit(text)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("Enter a full http:// or https:// address.")
    return text.rstrip("/")


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _weekdays(raw: Any) -> tuple[int, ...]:
    names = [part.strip().lower()[:3] for part in _text(raw).split(",") if part.strip()]
    unknown = [name for name in names if name not in WEEKDAYS]
    if unknown or not names:
        raise ValueError("List working days as mon, tue, wed, thu, fri, sat, sun.")
    return tuple(sorted({WEEKDAYS.index(name) for name in names}))


DAY_NAMES = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)


def _weekday(raw: Any) -> int:
    """'monday' (or 'mon') -> 0 … 'sunday' -> 6."""
    text = _text(raw).lower()
    for index, name in enumerate(DAY_NAMES):
        if text in (name, name[:3]):
            return index
    raise ValueError(f"Enter a day of the week such as monday, not {text!r}.")


def _clock_time(raw: Any) -> time:
    """'08:00' -> time(8, 0), a time of day in the business time zone."""
    text = _text(raw)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", text)
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"Enter a time of day as HH:MM, e.g. 08:00, not {text!r}.")
    return time(int(match.group(1)), int(match.group(2)))


def _dates(raw: Any) -> tuple[date, ...]:
    result = []
    for part in _text(raw).replace(";", ",").replace("\n", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            result.append(date.fromisoformat(part))
        except ValueError:
            raise ValueError(
                f"{part!r} is not a date in the form YYYY-MM-DD."
            ) from None
    return tuple(sorted(set(result)))


def _timezone(raw: Any) -> str:
    text = _text(raw) or "UTC"
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{text!r} is not a time zone such as Europe/Berlin."
        ) from None
    return text


SALEOR_PERMISSIONS = {
    "MANAGE_ORDERS": "order.manage_orders",
    "MANAGE_USERS": "account.manage_users",
    "MANAGE_STAFF": "account.manage_staff",
    "MANAGE_PRODUCTS": "product.manage_products",
    "MANAGE_CHECKOUTS": "checkout.manage_checkouts",
    "MANAGE_PLUGINS": "plugins.manage_plugins",
    "MANAGE_APPS": "app.manage_apps",
}


def _permission(raw: Any) -> str:
    """Accept Saleor's permission enum name or a codename; return the codename."""
    text = _text(raw) or "MANAGE_ORDERS"
    if text.upper() in SALEOR_PERMISSIONS:
        return SALEOR_PERMISSIONS[text.upper()]
    if re.fullmatch(r"[a-z_]+\.[a-z_]+", text):
        return text
    raise ValueError(f"Use a Saleor permission such as MANAGE_ORDERS, not {text!r}.")


def _hours_window(raw: Any) -> tuple[int, int]:
    """'09:00-17:30' -> minutes after midnight (start, end)."""
    text = _text(raw) or "09:00-17:00"
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text)
    if not match:
        raise ValueError("Enter working hours as HH:MM-HH:MM, e.g. 09:00-17:00.")
    h1, m1, h2, m2 = (int(part) for part in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if not (0 <= start < end <= 24 * 60 and m1 < 60 and m2 < 60):
        raise ValueError("Working hours must start before they end, within one day.")
    return start, end


SLA_PRIORITIES = ("urgent", "high", "normal", "low")


def _sla_policies(raw: Any) -> dict[str, tuple[int, int]]:
    """'urgent=1/8, high=4/24' -> {priority: (first response hours, resolution hours)}."""
    policies: dict[str, tuple[int, int]] = {}
    for part in _text(raw).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(\w+)\s*=\s*(\d+)\s*/\s*(\d+)", part)
        if not match or match.group(1).lower() not in SLA_PRIORITIES:
            raise ValueError(
                f"Write policies as priority=first/resolution hours, e.g. urgent=1/8 (not {part!r})."
            )
        first, resolution = int(match.group(2)), int(match.group(3))
        if first <= 0 or resolution < first:
            raise ValueError(
                f"In {part!r}, the targets must be positive and resolution at least first response."
            )
        policies[match.group(1).lower()] = (first, resolution)
    return policies


def _amount(raw: Any) -> Decimal:
    """Parse a non-negative money amount ("0" switches a cap off)."""
    text = str(raw if raw is not None else "").strip() or "0"
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("must be an amount such as 25 or 12.50") from None
    if not value.is_finite() or value < 0:
        raise ValueError("must be zero or a positive amount")
    if value > Decimal("1000000000"):
        raise ValueError("must be below 1,000,000,000")
    return value


def _metadata_mark(raw: Any) -> tuple[str, str]:
    """`key: value` (or just `key`): the Saleor metadata that excludes a product."""
    text = str(raw or "").strip()
    if not text:
        return ("", "")
    key, _, value = text.partition(":")
    key, value = key.strip(), value.strip().lower()
    if not key or len(key) > 128 or any(c in key for c in "\r\n"):
        raise ValueError("must be a metadata key, optionally ': value'")
    return (key, value)


REFUND_METHODS = ("original_payment", "gift_card")


def _refund_method(raw: Any) -> str:
    value = str(raw or "").strip().lower().replace("-", "_").replace(" ", "_")
    if value not in REFUND_METHODS:
        raise ValueError("must be original_payment or gift_card")
    return value


SURVEY_STARTS = ("delivery", "fulfillment")


def _survey_start(raw: Any) -> str:
    value = str(raw or "").strip().lower()
    if value not in SURVEY_STARTS:
        raise ValueError("must be delivery or fulfillment")
    return value


def _score_threshold(top: int) -> Callable[[Any], int]:
    def parse(raw: Any) -> int:
        value = _non_negative_int(raw)
        if value > top:
            raise ValueError(f"must be a score from 0 to {top}")
        return value

    return parse


SURVEY_QUESTION_LINE = re.compile(
    r"^(nps|csat)\.([a-z]{2}(?:[-_][A-Za-z]{2})?)\s*:\s*(.+)$"
)


def _survey_questions(raw: Any) -> Mapping[str, str]:
    """Parse 'kind.language: question' lines into {"kind.language": question}."""
    questions: dict[str, str] = {}
    for number, line in enumerate(str(raw or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        match = SURVEY_QUESTION_LINE.match(line)
        if match is None:
            raise ValueError(
                f"line {number}: write '<nps|csat>.<language>: <question>'"
            )
        kind, language, question = match.groups()
        if len(question) > 300 or "<" in question or ">" in question:
            raise ValueError(f"line {number}: plain text up to 300 characters")
        questions[f"{kind}.{language.lower().replace('_', '-')}"] = question.strip()
    return questions


def _secret(raw: Any) -> Secret:
    return Secret(_text(raw))


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
    # Extra validation when the merchant saves (e.g. parsing a template), kept out
    # of parse_settings, which runs on every Saleor request.
    check: Callable[[Any], Any] | None = None


FIELDS: tuple[ConfigField, ...] = (
    ConfigField(
        "proactive_updates_enabled",
        FieldType.BOOLEAN,
        True,
        "Proactive order updates",
        "Email customers when their order is confirmed, shipped, delayed, out for "
        "delivery, delivered, cancelled, returned or refunded. Ticket emails do not "
        "depend on it.",
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
        DEFAULT_SENDER_NAME,
        "Sender name",
        "The name customers see in the From field of support emails and in their "
        f"signature. Left at '{DEFAULT_SENDER_NAME}', emails use the shop's name.",
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
        "saleor_email_overlap",
        FieldType.OUTPUT,
        "",
        "Saleor's own customer emails",
        "Read only. The channels where Saleor's User emails plugin also emails customers "
        "about their orders (confirmation, shipping, cancellation, payment, refund): "
        "customers there would get two emails for one event.",
        _text,
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
        "weekly_report_enabled",
        FieldType.BOOLEAN,
        True,
        "Weekly report",
        "Email the support team addresses a service report every week: the figures "
        "against the week before, the top ticket topics, the lowest-rated tickets and "
        "charts. Independent of proactive order updates.",
        _parse_bool,
    ),
    ConfigField(
        "weekly_report_day",
        FieldType.STRING,
        "monday",
        "Weekly report: day",
        "The day of the week the report is sent (monday … sunday); it covers the seven "
        "days before that day.",
        _weekday,
    ),
    ConfigField(
        "weekly_report_time",
        FieldType.STRING,
        "08:00",
        "Weekly report: time",
        "The time of day (HH:MM, business time zone) the report is sent.",
        _clock_time,
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
        "price_protection_minimum",
        FieldType.STRING,
        "1.00",
        "Price protection: smallest refund",
        "A difference below this amount (in the order's currency) is not refunded.",
        _amount,
    ),
    ConfigField(
        "price_protection_auto_approve_limit",
        FieldType.STRING,
        "50",
        "Price protection: refund without review up to",
        "A drop in this store's own price is refunded automatically up to this amount per "
        "claim; a larger one, and every claim about another shop, waits for staff review.",
        _amount,
    ),
    ConfigField(
        "price_protection_order_cap",
        FieldType.STRING,
        "0",
        "Price protection: cap per order",
        "Most that price protection refunds on one order in total. 0: no cap (never more "
        "than the customer paid).",
        _amount,
    ),
    ConfigField(
        "price_protection_customer_cap",
        FieldType.STRING,
        "0",
        "Price protection: cap per customer per 12 months",
        "Most that price protection refunds to one customer over a rolling 12 months. "
        "0: no cap.",
        _amount,
    ),
    ConfigField(
        "price_protection_exclude_metadata",
        FieldType.STRING,
        "price_protection: exclude",
        "Price protection: exclusion mark",
        "Products or variants whose Saleor metadata has this key (and value, when given as "
        "'key: value') are never protected, e.g. clearance or open-box items. Empty: none.",
        _metadata_mark,
    ),
    ConfigField(
        "price_protection_other_shops",
        FieldType.BOOLEAN,
        False,
        "Price protection: accept other shops' prices",
        "Let customers claim a lower price they saw in another shop (always reviewed by "
        "staff). Off: claims must show this store's own price.",
        _parse_bool,
    ),
    ConfigField(
        "price_protection_refund_method",
        FieldType.STRING,
        "original_payment",
        "Price protection: refund method",
        "original_payment (back to the card or payment used) or gift_card (a Saleor gift "
        "card for the amount, emailed to the customer).",
        _refund_method,
    ),
    ConfigField(
        "price_protection_refund_reason",
        FieldType.STRING,
        "",
        "Price protection: refund reason page",
        "When your store requires a refund reason, the ID of the page (of the refund-reason "
        "page type) automatic refunds cite. Empty: no reason reference.",
        _text,
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
        "survey_start",
        FieldType.STRING,
        "delivery",
        "Survey counts from",
        "delivery: the survey delay counts from the carrier's delivery news (an order whose "
        "carrier sends none counts from shipping once the carrier wait is over); "
        "fulfillment: always from shipping.",
        _survey_start,
    ),
    ConfigField(
        "survey_carrier_wait_days",
        FieldType.STRING,
        "14",
        "Survey: wait for carrier news (days)",
        "How long after shipping the survey waits for the carrier to report delivery before "
        "it counts from shipping instead.",
        _non_negative_int,
    ),
    ConfigField(
        "survey_quiet_days",
        FieldType.STRING,
        "90",
        "Survey quiet period (days)",
        "A customer who got a purchase survey gets no other one for this many days.",
        _non_negative_int,
    ),
    ConfigField(
        "survey_gap_days",
        FieldType.STRING,
        "3",
        "Survey gap (days)",
        "At least this many days between any two survey emails to one customer (a purchase "
        "survey and a ticket survey): a survey due sooner waits until the gap is over.",
        _non_negative_int,
    ),
    ConfigField(
        "csat_delay_hours",
        FieldType.STRING,
        "24",
        "Ticket survey delay (hours)",
        "How long after a ticket is solved its CSAT survey is sent (cancelled if it reopens "
        "first; never for tickets tagged spam or merged).",
        _non_negative_int,
    ),
    ConfigField(
        "survey_link_days",
        FieldType.STRING,
        "30",
        "Survey links valid (days)",
        "How long the score links in a survey email work.",
        _positive_int,
    ),
    ConfigField(
        "nps_detractor_max",
        FieldType.STRING,
        "6",
        "NPS detractor: score up to",
        "An NPS answer at or below this score opens a follow-up ticket.",
        _score_threshold(10),
    ),
    ConfigField(
        "csat_detractor_max",
        FieldType.STRING,
        "2",
        "CSAT low score: up to",
        "A CSAT answer at or below this score opens a follow-up ticket.",
        _score_threshold(5),
    ),
    ConfigField(
        "survey_questions",
        FieldType.MULTILINE,
        "",
        "Survey questions",
        "Your own wording of the question per kind and language, one per line as "
        "'<kind>.<language>: <question>' (kinds nps and csat), e.g. 'nps.de: Würden Sie "
        "uns weiterempfehlen?'. Empty lines use the built-in wording (en, de). Plain text; "
        "{{store.name}} inserts the shop's name.",
        _survey_questions,
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
    ConfigField(
        "sla_policies",
        FieldType.STRING,
        "urgent=1/8, high=4/24, low=48/144",
        "SLA by priority",
        "First-response/resolution targets in business hours per priority, e.g. "
        "urgent=1/8, high=4/24, low=48/144. Normal priority (and any priority not listed) "
        "uses the two targets above.",
        _sla_policies,
    ),
    ConfigField(
        "business_hours",
        FieldType.STRING,
        "09:00-17:00",
        "Working hours",
        "Working hours on working days (HH:MM-HH:MM, business time zone); SLA clocks run only then.",
        _hours_window,
    ),
    ConfigField(
        "staff_permission",
        FieldType.STRING,
        "MANAGE_ORDERS",
        "Staff permission",
        "The Saleor permission staff need to work on tickets, e.g. MANAGE_ORDERS or "
        "MANAGE_USERS (or a codename such as order.manage_orders).",
        _permission,
    ),
    ConfigField(
        "ticket_reopen_window_days",
        FieldType.STRING,
        "14",
        "Reopen window (days)",
        "Customers can reopen a solved or closed ticket for this many days.",
        _non_negative_int,
    ),
    ConfigField(
        "auto_assign_staff",
        FieldType.STRING,
        "",
        "Auto-assign to",
        "Comma-separated staff emails: a new ticket no routing rule assigned goes to the one "
        "with the fewest open tickets. Empty: tickets stay unassigned.",
        _email_list,
    ),
    ConfigField(
        "ticket_rate_limit_per_hour",
        FieldType.STRING,
        "20",
        "Ticket messages per hour",
        "How many tickets and replies one customer, guest or IP address may post per hour "
        "(0: no limit).",
        _non_negative_int,
    ),
    ConfigField(
        "trusted_proxies",
        FieldType.STRING,
        "",
        "Trusted proxies",
        "Comma-separated IP addresses or networks (e.g. 10.0.0.0/8) of your load balancer or "
        "storefront server. Requests from them are counted for rate limits by the client address "
        "they forward in X-Forwarded-For. Empty: the connecting address counts.",
        _networks,
    ),
    ConfigField(
        "tracking_silence_days",
        FieldType.STRING,
        "5",
        "Silent tracking (days)",
        "A shipment without any carrier news for this many days gets a 'delayed' update.",
        _positive_int,
    ),
    ConfigField(
        "business_timezone",
        FieldType.STRING,
        "UTC",
        "Business time zone",
        "The time zone of your working days and hours, e.g. Europe/Berlin.",
        _timezone,
    ),
    ConfigField(
        "business_days",
        FieldType.STRING,
        "mon,tue,wed,thu,fri",
        "Working days",
        "Comma-separated working days (mon … sun) used for ship-by targets and SLAs.",
        _weekdays,
    ),
    ConfigField(
        "holidays",
        FieldType.STRING,
        "",
        "Holidays",
        "Comma-separated dates (YYYY-MM-DD) that are not working days.",
        _dates,
    ),
    ConfigField(
        "public_url",
        FieldType.STRING,
        "",
        "Public API address",
        "The address customers reach your Saleor API at, e.g. https://api.example.com; used "
        "for links in emails (unsubscribe). Leave empty to use the store's PUBLIC_URL.",
        _http_url,
    ),
    ConfigField(
        "tracking_url_template",
        FieldType.STRING,
        "",
        "Tracking link",
        "Handlebars template of the carrier's tracking page, e.g. "
        "https://www.carrier.example/track?id={{tracking_number}}. Empty: no link. "
        + TEMPLATE_RULES["tracking_url_template"].describe(),
        _template_text,
        _template_check(TEMPLATE_RULES["tracking_url_template"]),
    ),
    ConfigField(
        "ticket_url_template",
        FieldType.STRING,
        "",
        "Ticket page link",
        "Handlebars template of your storefront's ticket page, linked from ticket emails, e.g. "
        "https://shop.example.com/support/{{ticket_id}}?token={{token}} (token: send it as "
        "X-Support-Guest-Token). Empty: no link. "
        + TEMPLATE_RULES["ticket_url_template"].describe(),
        _template_text,
        _template_check(TEMPLATE_RULES["ticket_url_template"]),
    ),
    ConfigField(
        "carrier_webhook_secret",
        FieldType.SECRET,
        "",
        "Carrier webhook secret",
        "Shared secret that signs carrier events posted to webhooks/carrier/ (HMAC-SHA256). "
        "Empty: the carrier webhook is closed.",
        _secret,
    ),
    ConfigField(
        "inbound_email_secret",
        FieldType.SECRET,
        "",
        "Inbound email secret",
        "Shared secret that signs emails your mail provider posts to webhooks/inbound-email/ "
        "(HMAC-SHA256, like the carrier webhook). Empty: inbound email is closed.",
        _secret,
    ),
    ConfigField(
        "inbound_email_address",
        FieldType.STRING,
        "",
        "Support inbox address",
        "The address your provider forwards to the plugin, e.g. support@shop.example.com. Ticket "
        "emails carry a reply address support+<ticket code>@… so replies thread into their ticket.",
        _optional_email,
    ),
    ConfigField(
        "outgoing_webhook_url",
        FieldType.STRING,
        "",
        "Forward updates to URL",
        "Every customer update is also POSTed as signed JSON to this address (e.g. an SMS or "
        "chat gateway). Private and loopback addresses are refused.",
        _http_url,
    ),
    ConfigField(
        "outgoing_webhook_secret",
        FieldType.SECRET,
        "",
        "Forwarding secret",
        "Signs forwarded updates: header X-Support-Signature = sha256 HMAC of "
        "'<timestamp>.<body>', timestamp in X-Support-Timestamp.",
        _secret,
    ),
    *(
        ConfigField(
            f"notify_{kind.value}",
            FieldType.BOOLEAN,
            True,
            f"Send '{kind.label}' updates",
            _kind_switch_help(kind),
            _parse_bool,
        )
        for kind in NotificationKind
    ),
    *(
        field
        for kind in NotificationKind
        for field in (
            ConfigField(
                f"{kind.value}_subject",
                FieldType.STRING,
                "",
                f"'{kind.label}' email subject",
                f"Handlebars subject line; empty uses the built-in subject "
                f"{_built_in_language(kind)}. "
                + TEMPLATE_RULES[f"{kind.value}_subject"].describe(),
                _template_text,
                _template_check(TEMPLATE_RULES[f"{kind.value}_subject"]),
            ),
            ConfigField(
                f"{kind.value}_template",
                FieldType.MULTILINE,
                "",
                f"'{kind.label}' email body",
                f"Handlebars HTML body; empty uses the built-in template "
                f"{_built_in_language(kind)}. "
                + TEMPLATE_RULES[f"{kind.value}_template"].describe(),
                _template_text,
                _template_check(TEMPLATE_RULES[f"{kind.value}_template"]),
            ),
        )
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
            if field.check is not None:
                field.check(raw)
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
    sender_name: str = DEFAULT_SENDER_NAME
    sender_address: str = ""
    saleor_email_overlap: str = ""
    smtp_url: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    support_staff_addresses: tuple[str, ...] = ()
    weekly_report_enabled: bool = True
    weekly_report_day: int = 0  # Monday
    weekly_report_time: time = time(8, 0)
    delay_threshold_days: int = 2
    price_protection_window_days: int = 30
    price_protection_minimum: Decimal = Decimal("1.00")
    price_protection_auto_approve_limit: Decimal = Decimal(50)
    price_protection_order_cap: Decimal = Decimal(0)
    price_protection_customer_cap: Decimal = Decimal(0)
    price_protection_exclude_metadata: tuple[str, str] = ("price_protection", "exclude")
    price_protection_other_shops: bool = False
    price_protection_refund_method: str = "original_payment"
    price_protection_refund_reason: str = ""
    survey_delay_days: int = 7
    survey_start: str = "delivery"
    survey_carrier_wait_days: int = 14
    survey_quiet_days: int = 90
    survey_gap_days: int = 3
    csat_delay_hours: int = 24
    survey_link_days: int = 30
    nps_detractor_max: int = 6
    csat_detractor_max: int = 2
    survey_questions: Mapping[str, str] = dataclasses.field(
        default_factory=dict, compare=False
    )
    sla_first_response_hours: int = 24
    sla_resolution_hours: int = 72
    sla_policies: Mapping[str, tuple[int, int]] = dataclasses.field(
        default_factory=lambda: {"urgent": (1, 8), "high": (4, 24), "low": (48, 144)},
        compare=False,
    )
    business_hours: tuple[int, int] = (9 * 60, 17 * 60)
    staff_permission: str = "order.manage_orders"
    ticket_reopen_window_days: int = 14
    ticket_rate_limit_per_hour: int = 20
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    auto_assign_staff: tuple[str, ...] = ()
    tracking_silence_days: int = 5
    business_timezone: str = "UTC"
    business_days: tuple[int, ...] = (0, 1, 2, 3, 4)
    holidays: tuple[date, ...] = ()
    public_url: str = ""
    tracking_url_template: str = ""
    ticket_url_template: str = ""
    carrier_webhook_secret: Secret = dataclasses.field(
        default_factory=lambda: Secret("")
    )
    inbound_email_secret: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    inbound_email_address: str = ""
    outgoing_webhook_url: str = ""
    outgoing_webhook_secret: Secret = dataclasses.field(
        default_factory=lambda: Secret("")
    )
    # Per-kind switches and templates, keyed by the configuration field name.
    per_kind: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, repr=False, compare=False
    )

    def sla_targets(self, priority: str) -> tuple[int, int]:
        """(first response, resolution) business hours for a ticket priority."""
        return self.sla_policies.get(
            priority, (self.sla_first_response_hours, self.sla_resolution_hours)
        )

    def kind_enabled(self, kind: NotificationKind) -> bool:
        return bool(self.per_kind.get(f"notify_{kind.value}", True))

    def subject_override(self, kind: NotificationKind) -> str:
        return str(self.per_kind.get(f"{kind.value}_subject", "") or "")

    def body_override(self, kind: NotificationKind) -> str:
        return str(self.per_kind.get(f"{kind.value}_template", "") or "")


PER_KIND_PREFIXES = tuple(f"notify_{kind.value}" for kind in NotificationKind) + tuple(
    f"{kind.value}_{suffix}"
    for kind in NotificationKind
    for suffix in ("subject", "template")
)


def parse_settings(
    configuration: Iterable[Mapping[str, Any]] | Mapping[str, Any], *, active: bool
) -> SupportSettings:
    """Build settings from stored configuration; never raises.

    Stored values were validated when saved. A value that is bad anyway (edited in
    the database, left from an older version) falls back to its default and is
    logged by field name, never by value, because values may be secrets.
    """
    values = configuration_to_dict(configuration)
    parsed: dict[str, Any] = {"active": active, "per_kind": {}}
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
        if field.name in PER_KIND_PREFIXES:
            parsed["per_kind"][field.name] = parsed.pop(field.name)
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
