from typing import Any

import pytest
from django.core.exceptions import ValidationError

from saleor_support_plugin.conf import (
    FIELDS,
    FieldType,
    Secret,
    SupportSettings,
    default_configuration,
    parse_settings,
    validate_configuration,
)
from saleor_support_plugin.notifications.kinds import NotificationKind


def _errors(config) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as exc_info:
        validate_configuration(config)
    return exc_info.value.message_dict


def test_default_configuration_is_valid_and_parses_to_default_settings():
    # given
    config = default_configuration()
    # when
    validate_configuration(config)
    settings = parse_settings(config, active=True)
    # then
    assert settings == SupportSettings(active=True)
    assert {item["name"] for item in config} == {field.name for field in FIELDS}


def test_every_field_has_label_and_help_text():
    for field in FIELDS:
        assert field.label.strip(), field.name
        assert len(field.help_text) > 20, field.name


@pytest.mark.parametrize(
    ("name", "value", "message_part"),
    [
        ("delay_threshold_days", "two", "whole number"),
        ("delay_threshold_days", "-1", "zero or more"),
        ("price_protection_window_days", "0", "greater than zero"),
        ("price_protection_window_days", "3.5", "whole number"),
        ("survey_delay_days", "", "whole number"),
        ("sla_first_response_hours", "-4", "zero or more"),
        ("sla_resolution_hours", "abc", "whole number"),
        ("sender_address", "not-an-email", "not a valid email"),
        (
            "support_staff_addresses",
            "team@example.com, nobody",
            "'nobody' is not a valid email",
        ),
        ("smtp_url", "http://mail.example.com", "smtp://"),
        ("smtp_url", "smtp://", "no host"),
        ("smtp_url", "smtp://mail.example.com:99999", "from 1 to 65535"),
        ("smtp_url", "smtp://mail.example.com:port", "from 1 to 65535"),
        ("smtp_url", "smtp://mail.example.com:0", "from 1 to 65535"),
        ("smtp_url", "smtp://mail.example.com/?tls=maybe", "true or false"),
        ("tickets_enabled", "perhaps", "true or false"),
        ("shipped_subject", "Order {{#if order.number}}", "does not compile"),
        (
            "delivered_template",
            "<p>{{#each order.lines}}{{/if}}</p>",
            "does not compile",
        ),
        (
            "tracking_url_template",
            "https://t.example/{{tracking_number",
            "does not compile",
        ),
        ("business_timezone", "Mars/Olympus", "time zone"),
        ("business_days", "mon,funday", "working days"),
        ("business_days", "", "working days"),
        ("holidays", "2026-12-25, 25.12.2026", "YYYY-MM-DD"),
        ("public_url", "api.example.com", "http"),
        ("outgoing_webhook_url", "ftp://hooks.example.com", "http"),
        ("tracking_silence_days", "0", "greater than zero"),
    ],
)
def test_validate_configuration_rejects_bad_value_naming_the_field(
    name, value, message_part
):
    # given
    config = [{"name": name, "value": value}]
    # when
    errors = _errors(config)
    # then
    assert list(errors) == [name]
    field = next(field for field in FIELDS if field.name == name)
    assert errors[name][0].startswith(field.label)
    assert message_part in errors[name][0]


def test_validate_configuration_reports_every_bad_field_at_once():
    errors = _errors(
        {"delay_threshold_days": "x", "sender_address": "y", "sender_name": "fine"}
    )
    assert set(errors) == {"delay_threshold_days", "sender_address"}


def test_validation_error_has_code_invalid():
    with pytest.raises(ValidationError) as exc_info:
        validate_configuration({"survey_delay_days": "-2"})
    assert exc_info.value.error_dict["survey_delay_days"][0].code == "invalid"


def test_validate_configuration_ignores_unknown_fields_and_none_values():
    # Saleor keeps a stored value when the update sends null.
    validate_configuration(
        [
            {"name": "delay_threshold_days", "value": None},
            {"name": "legacy_field", "value": "x"},
        ]
    )


def test_parse_settings_types_values():
    # given
    config: list[dict[str, Any]] = [
        {"name": "delay_threshold_days", "value": " 5 "},
        {
            "name": "support_staff_addresses",
            "value": "a@example.com; b@example.com\na@example.com",
        },
        {"name": "smtp_url", "value": "smtp://user:pw@mail.example.com:587/?tls=true"},
        {"name": "surveys_enabled", "value": True},
        {"name": "tickets_enabled", "value": "false"},
    ]
    # when
    settings = parse_settings(config, active=False)
    # then
    assert settings.delay_threshold_days == 5
    assert settings.support_staff_addresses == ("a@example.com", "b@example.com")
    assert settings.smtp_url.reveal() == "smtp://user:pw@mail.example.com:587/?tls=true"
    assert settings.surveys_enabled is True
    assert settings.tickets_enabled is False
    assert settings.active is False


def test_parse_settings_falls_back_to_default_for_a_bad_stored_value(caplog):
    settings = parse_settings(
        {"sla_resolution_hours": "soon", "smtp_url": "ftp://secret-pass@x"}, active=True
    )
    assert settings.sla_resolution_hours == 72
    assert settings.smtp_url.reveal() == ""
    assert "sla_resolution_hours" in caplog.text
    assert "secret-pass" not in caplog.text


def test_secrets_never_show_in_repr_or_str():
    settings = parse_settings(
        {"smtp_url": "smtp://user:hunter2@mail.example.com"}, active=True
    )
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.smtp_url)
    assert bool(settings.smtp_url) is True
    assert Secret("") != settings.smtp_url


def test_secret_and_boolean_fields_have_the_right_types():
    types = {field.name: field.type for field in FIELDS}
    assert types["smtp_url"] is FieldType.SECRET
    assert all(
        types[name] is FieldType.BOOLEAN for name in types if name.endswith("_enabled")
    )


def test_per_kind_switches_and_templates_are_typed():
    settings = parse_settings(
        {"notify_delivered": "false", "shipped_subject": "Shipped {{order.number}}"},
        active=True,
    )
    assert settings.kind_enabled(NotificationKind.DELIVERED) is False
    assert settings.kind_enabled(NotificationKind.SHIPPED) is True
    assert (
        settings.subject_override(NotificationKind.SHIPPED)
        == "Shipped {{order.number}}"
    )
    assert settings.body_override(NotificationKind.SHIPPED) == ""


def test_every_update_kind_has_a_switch_a_subject_and_a_body_field():
    names = {field.name for field in FIELDS}
    for kind in NotificationKind:
        assert {
            f"notify_{kind.value}",
            f"{kind.value}_subject",
            f"{kind.value}_template",
        } <= names


def test_webhook_secrets_are_secret_fields_and_hidden():
    types = {field.name: field.type for field in FIELDS}
    assert types["carrier_webhook_secret"] is FieldType.SECRET
    assert types["outgoing_webhook_secret"] is FieldType.SECRET
    settings = parse_settings({"carrier_webhook_secret": "s3cr3t-value"}, active=True)
    assert "s3cr3t-value" not in repr(settings)
