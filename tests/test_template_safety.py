"""No template text, from staff or the dashboard, becomes code or reaches a Python object.

Hostile templates are refused on save (macros over GraphQL, every kind of template
setting), refused or inert when rendered, and never run when stored before.
"""

import logging
import os
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

import saleor_support_plugin
from saleor_support_plugin.conf import parse_settings, validate_configuration
from saleor_support_plugin.core.handlebars import (
    MAX_DEPTH,
    SafeHtml,
    TemplateSyntaxError,
    parse,
    render,
)
from saleor_support_plugin.notifications.context import fulfillment_context
from saleor_support_plugin.notifications.kinds import NotificationKind
from saleor_support_plugin.notifications.models import Notification
from saleor_support_plugin.notifications.rendering import render_email
from saleor_support_plugin.orders.models import FulfillmentSnapshot
from saleor_support_plugin.tickets.models import Macro, TicketMessage
from saleor_support_plugin.tickets.notifications import ticket_url

from .factories import TicketFactory
from .test_staff_tools import MUTATION_MACRO_APPLY, MUTATION_MACRO_CREATE
from .test_ticket_api import data_of, tid

PAYLOAD = "cwd={{[X') or __import__('os').getcwd() #]}}"

# Each one is refused wherever a template is saved.
HOSTILE = [
    PAYLOAD,
    "{{[X') or __import__('os').getcwd() #]}}",
    "{{[X') or __import__('os').getpid() #]}}",
    "{{customer_name.__class__}}",
    "{{__class__}}",
    "{{this.__init__.__globals__}}",
    "{{order.__dict__}}",
    "{{_private}}",
    '{{lookup . "x"}}',
    "{{> partial}}",
    "{{#> layout}}x{{/layout}}",
    "{{#each x}}{{../__class__}}{{/each}}",
    "{{helperMissing customer_name 1}}",
    "{{log customer_name}}",
    "{{#unknown}}{{/unknown}}",
    "{{#if}}x{{/if}}",
    "{{#if customer_name}}x",
    "x{{/if}}",
    "{{else}}",
    "{{a.[b]}}",
    "{{[customer_name]}}",
    "{{a/b}}",
    "{{(foo)}}",
    "{{customer_name (lookup this 'x')}}",
    "{{x=1}}",
    "{{customer_name x=1}}",
    "{{^customer_name}}x{{/customer_name}}",
    "{{&customer_name}}",
    "{{*decorator}}",
    "{{{{raw}}}}{{customer_name}}{{{{/raw}}}}",
    "{{@root.customer_name}}",
    "{{customer_name",
    "customer_name}}",
    "{{{customer_name}}",
    "{{!-- never closed",
    "{{#if customer_name}}" * (MAX_DEPTH + 5) + "{{/if}}" * (MAX_DEPTH + 5),
    "x" * 200_000,
]

# What a hostile template must never print.
SECRETS = [os.getcwd(), str(Path(__file__).resolve().parent), "__globals__"]


def _assert_inert(output: str) -> None:
    for secret in SECRETS:
        assert secret not in output
    assert "object at 0x" not in output
    assert "<" not in output
    assert "{'" not in output  # no dict repr


# --- macros


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_macro_create_refuses_hostile_bodies(staff_api_client, support_config, body):
    # when staff save the macro
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_CREATE, {"input": {"name": "Hostile", "body": body}}
        ),
        "supportMacroCreate",
    )
    # then it is refused on the body, and nothing is stored
    assert len(result["errors"]) == 1
    error = result["errors"][0]
    assert error["field"] == "body"
    assert error["code"] == ("TOO_LONG" if len(body) > 20_000 else "INVALID")
    assert result["macro"] is None
    assert not Macro.objects.exists()


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (PAYLOAD, "{{[X') or __import__('os').getcwd() #]}}"),
        ("Hi {{order.number}}", "{{order.number}}"),
        ("Hi {{customer_email}}", "{{customer_email}}"),
        ("{{#each order_number}}x{{/each}}", "{{#each}}"),
        ("{{#with customer_name}}x{{/with}}", "{{#with}}"),
        ("Hi {{{customer_name}}}", "{{{customer_name}}}"),
        ("Hi {{this}}", "{{this}}"),
    ],
)
def test_macro_error_names_the_tag_that_is_not_allowed(
    staff_api_client, support_config, body, named
):
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_CREATE, {"input": {"name": "Hostile", "body": body}}
        ),
        "supportMacroCreate",
    )
    assert [(error["field"], error["code"]) for error in result["errors"]] == [
        ("body", "INVALID")
    ]
    message = result["errors"][0]["message"]
    assert named in message
    assert "{{customer_name}}" in message  # says what is allowed
    assert "line 1" in message


def test_macro_with_placeholders_inside_if_and_unless_is_accepted(
    staff_api_client, support_config
):
    body = (
        "Hi {{customer_name}}{{#if tracking_link}}, track it: {{tracking_link}}"
        "{{else}}.{{/if}}{{#unless order_number}} Which order?{{/unless}}"
        "{{! staff-only note }}"
    )
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_CREATE, {"input": {"name": "Fine", "body": body}}
        ),
        "supportMacroCreate",
    )
    assert result["errors"] == []
    assert Macro.objects.get().body == body


def test_macro_stored_with_the_old_payload_is_never_applied(
    staff_api_client, mail_config, smtp_server, django_capture_on_commit_callbacks
):
    # given a macro saved before macros were checked (written straight to the DB)
    macro = Macro.objects.create(name="Old", body=PAYLOAD, set_status="solved")
    ticket = TicketFactory.create(customer_email="alice@example.com")
    # when staff apply it
    with django_capture_on_commit_callbacks(execute=True):
        result = data_of(
            staff_api_client.post_graphql(
                MUTATION_MACRO_APPLY,
                {"id": tid(ticket), "macro": f"{_macro_id(macro)}"},
            ),
            "supportTicketMacroApply",
        )
    # then a coded error on the macro; nothing is posted, emailed or changed
    assert [(error["field"], error["code"]) for error in result["errors"]] == [
        ("macro", "INVALID")
    ]
    assert result["message"] is None
    assert not TicketMessage.objects.filter(ticket=ticket).exists()
    assert not Notification.objects.exists()
    assert smtp_server.messages == []
    ticket.refresh_from_db()
    assert ticket.status != "solved"


def test_macro_values_are_not_escaped_twice_in_a_plain_text_reply(
    staff_api_client, support_config
):
    # given a customer whose name has an apostrophe and an ampersand
    ticket = TicketFactory.create(customer_email="o'brien&co@example.com")
    macro = Macro.objects.create(name="Hi", body="Hi {{customer_name}}, thanks!")
    # when the plain-text macro is applied
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_APPLY, {"id": tid(ticket), "macro": _macro_id(macro)}
        ),
        "supportTicketMacroApply",
    )
    # then the customer reads the name, not HTML entities
    assert result["errors"] == []
    assert result["message"]["bodyText"] == "Hi o'brien&co, thanks!"
    message = TicketMessage.objects.get(ticket=ticket)
    assert message.body_html == "Hi o&#x27;brien&amp;co, thanks!"


def test_macro_values_in_an_html_reply_are_escaped(staff_api_client, support_config):
    # given a customer name that looks like markup, and an HTML macro
    ticket = TicketFactory.create(customer_email="<b>x</b>@example.com")
    macro = Macro.objects.create(name="Hi", body="<p>Hi {{customer_name}}</p>")
    # when it is applied
    result = data_of(
        staff_api_client.post_graphql(
            MUTATION_MACRO_APPLY, {"id": tid(ticket), "macro": _macro_id(macro)}
        ),
        "supportTicketMacroApply",
    )
    # then the name is text, not markup
    assert result["errors"] == []
    assert result["message"]["bodyText"] == "Hi <b>x</b>"
    assert "<b>" not in TicketMessage.objects.get(ticket=ticket).body_html


def _macro_id(macro: Macro) -> str:
    from graphql_relay import to_global_id

    return to_global_id("SupportMacro", macro.pk)


# --- merchant settings

TEMPLATE_FIELDS = [
    "shipped_subject",
    "shipped_template",
    "refund_issued_template",
    "ticket_reply_subject",
    "ticket_reply_template",
    "ticket_created_template",
    "ticket_sla_breach_template",
    "tracking_url_template",
    "ticket_url_template",
]


@pytest.mark.parametrize("field", TEMPLATE_FIELDS)
@pytest.mark.parametrize("template", HOSTILE, ids=range(len(HOSTILE)))
def test_configuration_refuses_hostile_templates_naming_the_field(field, template):
    # when the merchant saves the template in the dashboard
    with pytest.raises(ValidationError) as exc_info:
        validate_configuration({field: template})
    # then the error is on that field, coded, and says the template is refused
    errors = exc_info.value.error_dict
    assert list(errors) == [field]
    assert errors[field][0].code == "invalid"
    assert "does not compile" in errors[field][0].messages[0]


@pytest.mark.parametrize(
    ("field", "template", "named"),
    [
        ("shipped_template", "<p>{{ticket.number}}</p>", "{{ticket.number}}"),
        ("shipped_template", "<p>{{{order.number}}}</p>", "{{{order.number}}}"),
        ("shipped_template", "<p>{{{message.html}}}</p>", "message.html"),
        ("shipped_subject", "{{customer_name}}", "{{customer_name}}"),
        ("ticket_reply_template", "{{{message.text}}}", "{{{message.text}}}"),
        ("ticket_reply_template", "{{fulfillment.tracking_url}}", "fulfillment"),
        ("ticket_sla_breach_template", "{{{message.html}}}", "message.html"),
        ("tracking_url_template", "https://t.example/{{order.number}}", "order"),
        ("ticket_url_template", "https://s.example/{{ticket.id}}", "{{ticket.id}}"),
        ("ticket_url_template", "https://s.example/{{{token}}}", "{{{token}}}"),
    ],
)
def test_configuration_accepts_only_the_documented_variables(field, template, named):
    with pytest.raises(ValidationError) as exc_info:
        validate_configuration({field: template})
    assert named in exc_info.value.message_dict[field][0]


@pytest.mark.parametrize(
    ("field", "template"),
    [
        (
            "shipped_template",
            "{{#each order.lines}}{{@index}}: {{product_name}}{{/each}}",
        ),
        ("shipped_template", "{{#with fulfillment}}{{tracking_number}}{{/with}}"),
        ("shipped_subject", "{{~order.number~}} {{! note }}{{!-- long --}}"),
        ("refund_issued_template", "{{#unless refund.amount}}-{{else}}+{{/unless}}"),
        ("ticket_reply_template", "<div>{{{message.html}}}</div>{{ticket_url}}"),
        ("ticket_sla_breach_subject", "{{breach.target}} #{{ticket.number}}"),
        ("tracking_url_template", "https://t.example/{{carrier}}/{{tracking_number}}"),
        (
            "ticket_url_template",
            "https://s.example/{{ticket_id}}?n={{number}}&t={{token}}",
        ),
    ],
)
def test_configuration_accepts_handlebars_over_documented_variables(field, template):
    validate_configuration({field: template})


def test_stored_body_that_no_longer_validates_falls_back_to_the_built_in(caplog):
    # given overrides saved before this check (never through validation)
    settings = parse_settings(
        {"shipped_subject": PAYLOAD, "shipped_template": "<p>{{order.__class__}}</p>"},
        active=True,
    )
    context = {"order": {"number": "1042", "lines": []}, "store": {"name": "Acme"}}
    # when the email is rendered
    with caplog.at_level(logging.WARNING):
        rendered = render_email(
            NotificationKind.SHIPPED, context, language_code="en", settings=settings
        )
    # then the built-in subject and body are used, with a warning and no traceback
    builtin = render_email(
        NotificationKind.SHIPPED,
        context,
        language_code="en",
        settings=parse_settings({}, active=True),
    )
    assert rendered == builtin
    warnings = [record for record in caplog.records if record.levelname == "WARNING"]
    assert {record.args[0] for record in warnings} >= {
        "shipped_subject",
        "shipped_template",
    }
    assert all(record.exc_info is None for record in warnings)
    _assert_inert(rendered.subject + rendered.text)


def test_stored_tracking_link_that_no_longer_validates_gives_no_link(caplog):
    # given a tracking link template saved before this check
    settings = parse_settings(
        {"tracking_url_template": "https://t.example/" + PAYLOAD}, active=True
    )
    row = FulfillmentSnapshot(fulfillment_id="f1", tracking_number="1Z", carrier="ups")
    # when the fulfillment's data is built
    with caplog.at_level(logging.WARNING):
        context = fulfillment_context(row, settings)
    # then there is no link, only a warning naming the setting
    assert context["tracking_url"] == ""
    assert [record.args[0] for record in caplog.records] == ["tracking_url_template"]


def test_stored_ticket_link_that_no_longer_validates_gives_no_link(db, caplog):
    settings = parse_settings(
        {"ticket_url_template": "https://s.example/{{token.__class__}}"}, active=True
    )
    with caplog.at_level(logging.WARNING):
        link = ticket_url(TicketFactory.create(), settings)
    assert link == ""
    assert [record.args[0] for record in caplog.records] == ["ticket_url_template"]


# --- the interpreter itself


@pytest.mark.parametrize("template", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_templates_do_not_parse_even_without_rules(template):
    with pytest.raises(TemplateSyntaxError):
        render(template, {"customer_name": "Alice", "x": [1]})


def test_syntax_errors_say_where():
    with pytest.raises(TemplateSyntaxError) as exc_info:
        parse("Hello\n  {{order.__class__}}")
    assert (exc_info.value.line, exc_info.value.column) == (2, 3)
    assert "(line 2, column 3)" in str(exc_info.value)


class _EvilStr(str):
    def __str__(self):
        return os.getcwd()

    def __html__(self):
        return os.getcwd()


class _EvilDict(dict):
    def get(self, key, default=None):
        return os.getcwd()

    def __getitem__(self, key):
        return os.getcwd()


HOSTILE_CONTEXT = {
    "customer_name": "<b>Alice</b>",
    "number": 5,
    "obj": object(),
    "fn": os.getcwd,
    "cls": dict,
    "err": Exception("secret"),
    "evil": _EvilStr("evil"),
    "spy": _EvilDict(name="spy"),
    "items": [object(), os.getcwd, {"__class__": "x"}],
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # triple-stash only emits SafeHtml; a customer's name is escaped
        ("{{{customer_name}}}", "&lt;b&gt;Alice&lt;/b&gt;"),
        # objects that are not plain data render as nothing
        ("[{{obj}}{{fn}}{{cls}}{{err}}]", "[]"),
        ("[{{this}}]", "[]"),
        ("[{{#with obj}}{{this}}{{/with}}]", "[]"),
        ("[{{#with fn}}yes{{else}}no{{/with}}]", "[no]"),
        ("[{{#if obj}}yes{{else}}no{{/if}}]", "[no]"),
        ("[{{#each obj}}x{{else}}none{{/each}}]", "[none]"),
        ("[{{#each items}}{{this}}|{{/each}}]", "[|||]"),
        # names reach only dict keys, never attributes or methods
        ("[{{number.real}}{{number.numerator}}{{fn.func}}{{cls.mro}}]", "[]"),
        ("[{{customer_name.upper}}{{customer_name.length}}]", "[]"),
        ("[{{err.args}}{{obj.a}}]", "[]"),
        # a subclass cannot run code through its own methods
        ("[{{evil}}]", "[evil]"),
        ("[{{spy.name}}]", "[spy]"),
        ("[{{#each spy}}{{@key}}={{this}}{{/each}}]", "[name=spy]"),
    ],
)
def test_allowed_syntax_renders_inert(template, expected):
    output = render(template, HOSTILE_CONTEXT)
    assert output == expected
    _assert_inert(output.replace("&lt;b&gt;", ""))


def test_safe_html_is_the_only_raw_value():
    context = {"html": SafeHtml("<p>ok</p>"), "text": "<p>no</p>"}
    assert render("{{{html}}}{{{text}}}", context) == "<p>ok</p>&lt;p&gt;no&lt;/p&gt;"
    assert render("{{html}}", context) == "&lt;p&gt;ok&lt;/p&gt;"


def test_escaping_matches_handlebars():
    assert render("{{v}}", {"v": "&<>\"'`="}) == "&amp;&lt;&gt;&quot;&#x27;&#x60;&#x3D;"


def test_truthiness_and_each_data_variables():
    context = {
        "empty": "",
        "zero": 0,
        "none": None,
        "no": False,
        "list": [],
        "dict": {},
        "items": ["a", "b", "c"],
    }
    falsy = "".join(
        f"{{{{#if {name}}}}}T{{{{else}}}}F{{{{/if}}}}"
        for name in ("empty", "zero", "none", "no", "list", "dict", "missing")
    )
    assert render(falsy, context) == "FFFFFFF"
    each = "{{#each items}}{{@index}}{{this}}{{#if @first}}^{{/if}}{{#if @last}}${{/if}},{{/each}}"
    assert render(each, context) == "0a^,1b,2c$,"


def test_whitespace_control_and_standalone_lines():
    template = "<ul>\n  {{#each items}}\n  <li>{{~this~}}  </li>\n  {{/each}}\n</ul>"
    assert render(template, {"items": ["a", "b"]}) == (
        "<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>"
    )


def test_parsing_is_cached_and_bounded():
    source = "<p>{{#if order.number}}{{order.number}}{{/if}}</p>\n" * 1_900
    assert len(source) < 100_000
    assert parse(source) is parse(source)
    assert render(source, {"order": {"number": "7"}}).count("<p>7</p>") == 1_900


def test_no_code_of_the_plugin_imports_pybars():
    package = Path(saleor_support_plugin.__file__).parent
    for path in package.rglob("*.py"):
        text = path.read_text()
        assert "import pybars" not in text, path
        assert "from pybars" not in text, path
