"""The weekly report: schedule, once per week through the outbox, the email (real SMTP), the command."""

from __future__ import annotations

import csv
import io
import re
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command, get_commands
from django.db import connection

from saleor_support_plugin.conf import parse_settings, validate_configuration
from saleor_support_plugin.management.commands import support_report
from saleor_support_plugin.metrics.data import Figure, Statistics
from saleor_support_plugin.metrics.report import (
    ChartError,
    Keyword,
    LowRatedTicket,
    Report,
    Topic,
    build_report,
    lowest_rated,
    render_chart,
    report_context,
    subject_keywords,
    top_topics,
)
from saleor_support_plugin.metrics.weekly import due_slot, send_weekly_report
from saleor_support_plugin.notifications.kinds import NotificationKind
from saleor_support_plugin.notifications.models import Notification, NotificationStatus
from saleor_support_plugin.notifications.rendering import render_email
from saleor_support_plugin.notifications.services import deliver_notification
from saleor_support_plugin.ports import load_settings
from saleor_support_plugin.surveys.models import Survey
from saleor_support_plugin.tasks import BEAT_SCHEDULE, weekly_report_task
from saleor_support_plugin.tickets.models import Ticket

from .factories import OrderSnapshotFactory, TicketFactory

BERLIN = ZoneInfo("Europe/Berlin")
# Monday 30 November 2026, 08:00 in Berlin (07:00 UTC): the report of 23–29 November.
MONDAY_8 = datetime(2026, 11, 30, 8, 0, tzinfo=BERLIN)
WEEK_START = datetime(2026, 11, 23, tzinfo=BERLIN)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TEAM = "team@acme.example, Lead@Acme.example"


def berlin(**values: Any):
    return parse_settings({"business_timezone": "Europe/Berlin", **values}, active=True)


def report_config(configure, **values: Any) -> None:
    configure(
        **{
            "business_timezone": "Europe/Berlin",
            "support_staff_addresses": TEAM,
            **values,
        }
    )


def ticket(
    created_at: datetime,
    *,
    subject: str = "Question",
    category: str = "other",
    channel: str = "default-channel",
    tags: tuple[str, ...] = (),
) -> Ticket:
    order = OrderSnapshotFactory.create(channel_slug=channel)
    made = TicketFactory.create(
        subject=subject, category=category, order=order, tags=list(tags)
    )
    Ticket.objects.filter(pk=made.pk).update(created_at=created_at)
    made.refresh_from_db()
    return made


def rate(
    made: Ticket,
    score: int,
    answered_at: datetime,
    comment: str = "",
    *,
    submitted: bool = True,
) -> Survey:
    assert made.order is not None
    return Survey.objects.create(
        kind="csat",
        state="submitted" if submitted else "answered",
        ticket=made,
        customer_email=made.customer_email,
        channel_slug=made.order.channel_slug,
        triggered_at=answered_at - timedelta(days=2),
        due_at=answered_at - timedelta(days=1),
        sent_at=answered_at - timedelta(days=1),
        score=score,
        comment=comment,
        answered_at=answered_at,
        submitted_at=answered_at if submitted else None,
    )


def weekly_rows() -> list[str]:
    return sorted(
        Notification.objects.filter(kind=NotificationKind.WEEKLY_REPORT).values_list(
            "dedupe_key", flat=True
        )
    )


# --- settings


def test_weekly_report_settings_default_to_monday_8_and_reject_bad_values():
    # given the defaults
    settings = parse_settings({}, active=True)
    assert settings.weekly_report_enabled is True
    assert (settings.weekly_report_day, settings.weekly_report_time.isoformat()) == (
        0,
        "08:00:00",
    )
    assert (
        parse_settings({"weekly_report_day": "Fri"}, active=True).weekly_report_day == 4
    )
    # when a merchant saves a day and a time that do not exist
    with pytest.raises(ValidationError) as error:
        validate_configuration(
            {"weekly_report_day": "someday", "weekly_report_time": "24:00"}
        )
    # then each field names its problem
    errors = error.value.error_dict
    assert [e.code for e in errors["weekly_report_day"]] == ["invalid"]
    assert errors["weekly_report_day"][0].message == (
        "Weekly report: day: Enter a day of the week such as monday, not 'someday'."
    )
    assert errors["weekly_report_time"][0].message == (
        "Weekly report: time: Enter a time of day as HH:MM, e.g. 08:00, not '24:00'."
    )


# --- the schedule


def test_the_report_is_due_at_monday_8_in_berlin_and_not_a_second_before():
    settings = berlin()
    # when it is 07:59:59 on Monday
    # then nothing is due (last Monday's report is over a day old)
    assert due_slot(MONDAY_8 - timedelta(seconds=1), settings) is None
    # when it is 08:00, in Berlin or UTC
    slot = due_slot(datetime(2026, 11, 30, 7, 0, tzinfo=UTC), settings)
    # then the report of the week before is due
    assert slot is not None
    assert slot == due_slot(MONDAY_8, settings)
    assert (slot.start, slot.end) == (WEEK_START, datetime(2026, 11, 30, tzinfo=BERLIN))
    assert slot.key == "weekly_report:2026-11-23"
    # and stays due for a day, not longer
    assert due_slot(MONDAY_8 + timedelta(hours=23, minutes=59), settings) == slot
    assert due_slot(MONDAY_8 + timedelta(days=1), settings) is None


def test_the_configured_day_and_time_in_the_business_zone():
    settings = parse_settings(
        {
            "business_timezone": "America/New_York",
            "weekly_report_day": "friday",
            "weekly_report_time": "17:30",
        },
        active=True,
    )
    new_york = ZoneInfo("America/New_York")
    friday = datetime(2026, 11, 27, 17, 30, tzinfo=new_york)
    assert due_slot(friday - timedelta(minutes=1), settings) is None
    slot = due_slot(friday, settings)
    assert slot is not None
    assert slot.start == datetime(2026, 11, 20, tzinfo=new_york)
    assert slot.end == datetime(2026, 11, 27, tzinfo=new_york)


@pytest.mark.parametrize(
    ("due_utc", "start_utc", "end_utc", "hours"),
    [
        # Summer time began on Sunday 29 March: 08:00 CEST is 06:00 UTC; the week has 167 h.
        (
            datetime(2026, 3, 30, 6, 0, tzinfo=UTC),
            datetime(2026, 3, 22, 23, 0, tzinfo=UTC),
            datetime(2026, 3, 29, 22, 0, tzinfo=UTC),
            167,
        ),
        # It ended on Sunday 25 October: 08:00 CET is 07:00 UTC; the week has 169 h.
        (
            datetime(2026, 10, 26, 7, 0, tzinfo=UTC),
            datetime(2026, 10, 18, 22, 0, tzinfo=UTC),
            datetime(2026, 10, 25, 23, 0, tzinfo=UTC),
            169,
        ),
    ],
)
def test_dst_change_moves_the_moment_in_utc_and_the_week_keeps_its_local_days(
    due_utc, start_utc, end_utc, hours
):
    settings = berlin()
    assert due_slot(due_utc - timedelta(seconds=1), settings) is None
    slot = due_slot(due_utc, settings)
    assert slot is not None
    assert slot.due_at.astimezone(UTC) == due_utc
    assert slot.due_at.astimezone(BERLIN).hour == 8
    assert (slot.start.astimezone(UTC), slot.end.astimezone(UTC)) == (
        start_utc,
        end_utc,
    )
    assert slot.end.astimezone(UTC) - slot.start.astimezone(UTC) == timedelta(
        hours=hours
    )


def test_a_time_the_clocks_skip_is_read_with_the_offset_before_the_change():
    # given Sunday 02:30, which does not exist on 29 March 2026 in Berlin
    settings = berlin(weekly_report_day="sunday", weekly_report_time="02:30")
    # then it is due at 01:30 UTC (03:30 summer time), once
    assert due_slot(datetime(2026, 3, 29, 1, 29, 59, tzinfo=UTC), settings) is None
    slot = due_slot(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), settings)
    assert slot is not None
    assert slot.key == "weekly_report:2026-03-22"


def test_the_beat_task_runs_every_15_minutes():
    assert BEAT_SCHEDULE["saleor-support-plugin-weekly-report"] == {
        "task": "saleor_support_plugin.tasks.weekly_report_task",
        "schedule": 900.0,
    }


def test_before_its_moment_nothing_is_written_and_at_it_one_row_per_address(
    db, support_config
):
    # given a team of two addresses
    report_config(support_config)
    settings = load_settings()
    # when the task runs a second before Monday 08:00
    assert (
        send_weekly_report(now=MONDAY_8 - timedelta(seconds=1), settings=settings) == []
    )
    assert weekly_rows() == []
    # when it runs at 08:00
    created = send_weekly_report(now=MONDAY_8, settings=settings)
    # then each address gets the report of 23–29 November
    assert weekly_rows() == [
        "weekly_report:2026-11-23:lead@acme.example:email",
        "weekly_report:2026-11-23:team@acme.example:email",
    ]
    assert {row.status for row in created} == {NotificationStatus.PENDING}
    assert created[0].context["report"]["period"]["label"] == "23–29 Nov 2026"


def test_every_15_minutes_for_two_weeks_writes_one_report_per_week_and_address(
    db, support_config
):
    report_config(support_config)
    settings = load_settings()
    # when the beat task runs every 15 minutes from Monday 00:00 for two weeks
    moment = datetime(2026, 11, 30, tzinfo=BERLIN)
    written = 0
    while moment < datetime(2026, 12, 14, tzinfo=BERLIN):
        written += len(send_weekly_report(now=moment, settings=settings))
        moment += timedelta(minutes=15)
    # then two reports went to each address, one per week
    assert written == 4
    assert weekly_rows() == [
        "weekly_report:2026-11-23:lead@acme.example:email",
        "weekly_report:2026-11-23:team@acme.example:email",
        "weekly_report:2026-11-30:lead@acme.example:email",
        "weekly_report:2026-11-30:team@acme.example:email",
    ]


def test_an_address_added_during_the_day_gets_the_report_too(db, support_config):
    report_config(support_config, support_staff_addresses="team@acme.example")
    send_weekly_report(now=MONDAY_8, settings=load_settings())
    # when the merchant adds an address and the task runs again
    report_config(support_config)
    created = send_weekly_report(
        now=MONDAY_8 + timedelta(minutes=15), settings=load_settings()
    )
    # then only the new address gets it
    assert [row.recipient for row in created] == ["lead@acme.example"]
    assert len(weekly_rows()) == 2


def test_concurrent_runs_write_the_report_once(transactional_db, support_config):
    # given eight workers running the task at the same moment
    report_config(support_config)
    settings = load_settings()
    barrier = threading.Barrier(8)
    results: list[int] = []
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(len(send_weekly_report(now=MONDAY_8, settings=settings)))
        except BaseException as exc:  # surfaced below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # then one of them wrote a row per address, the others nothing
    assert failures == []
    assert sorted(results) == [0] * 7 + [2]
    assert len(weekly_rows()) == 2


def test_switched_off_nothing_is_written_and_a_written_report_is_suppressed(
    db, support_config
):
    # given the weekly report switched off
    report_config(support_config, weekly_report_enabled=False)
    # then the task writes nothing
    assert send_weekly_report(now=MONDAY_8, settings=load_settings()) == []
    assert weekly_rows() == []
    # given it is on (and proactive order updates off: the report does not need them)
    report_config(support_config, proactive_updates_enabled=False)
    created = send_weekly_report(now=MONDAY_8, settings=load_settings())
    assert len(created) == 2
    # when it is switched off before the row is delivered
    report_config(support_config, weekly_report_enabled=False)
    result = deliver_notification(created[0].pk, settings=load_settings())
    # then the row is suppressed, with the reason
    assert result.status == NotificationStatus.SUPPRESSED
    created[0].refresh_from_db()
    assert created[0].reason == "the weekly report is switched off"


# --- the email through a real SMTP server


def test_the_email_has_inline_png_charts_and_the_numbers_in_text_and_html(
    db, mail_config, smtp_server, on_commit
):
    # given three tickets this week (two about shipping), one the week before,
    # and a CSAT 1 with a comment and a CSAT 5 this week
    report_config(
        mail_config,
        support_staff_addresses="team@acme.example",
        ticket_url_template="https://desk.acme.example/t/{{number}}?token={{token}}",
        proactive_updates_enabled=False,
    )
    monday = WEEK_START + timedelta(hours=10)
    late = ticket(monday, subject="Parcel <late>", category="shipping")
    ticket(monday + timedelta(days=1), subject="Parcel lost", category="shipping")
    happy = ticket(monday + timedelta(days=2), subject="Zip broken", category="return")
    ticket(monday - timedelta(days=3), subject="Before", category="other")
    rate(late, 1, monday + timedelta(days=3), comment="Nobody answered & I waited")
    rate(happy, 5, monday + timedelta(days=4))

    # when the task runs at Monday 08:00 (Celery eager: delivery follows the commit)
    with time_machine.travel(MONDAY_8, tick=False):
        on_commit(weekly_report_task)

    # then the team got one email
    (mail,) = smtp_server.wait_for(1)
    assert smtp_server.messages == [mail]
    assert mail.envelope_to == ("team@acme.example",)
    assert mail.subject == "Weekly support report 23–29 Nov 2026"
    message = mail.message
    # multipart/related: text and HTML alternatives, then the PNGs the HTML shows
    assert message.get_content_type() == "multipart/related"
    assert message.get_param("type") == "multipart/alternative"
    images = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert len(images) >= 3
    html = mail.body("html")
    cids = {str(part["Content-ID"]).strip("<>") for part in images}
    assert cids == set(re.findall(r'src="cid:([^"]+)"', html))
    for part in images:
        assert part.get_content_disposition() == "inline"
        assert part.get_payload(decode=True).startswith(PNG_MAGIC)
    # every chart has alt text that carries its numbers
    alts = re.findall(r'<img src="cid:[^"]+" alt="([^"]+)"', html)
    assert len(alts) == len(images)
    assert any("Tickets opened 3 (last week 1)" in alt for alt in alts)
    # the numbers are in the HTML table and in the text part
    assert re.search(r'<th scope="row"[^>]*>Tickets opened</th><td[^>]*>3</td>', html)
    text = mail.body("plain").replace("\r\n", "\n")
    assert "- Tickets opened: 3 / 1 / +2 (+200 %)" in text
    assert "- CSAT (4 or 5 of 5): 50.0 % / n/a / n/a" in text
    assert "- Shipping: 2 tickets, 67 % (before: 0)" in text
    # the lowest-rated ticket, linked without the customer's token
    url = f"https://desk.acme.example/t/{late.number}?token="
    assert f"- {late.reference} (CSAT 1 of 5) Parcel <late>\n  {url}\n" in text
    assert '  "Nobody answered & I waited"\n' in text
    assert f'<a href="{url.replace("=", "&#x3D;")}"' in html
    assert "Parcel &lt;late&gt;" in html
    assert happy.reference not in text
    # staff mail: no unsubscribe link
    assert message["List-Unsubscribe"] is None
    assert "unsubscribe" not in text.lower()
    # and the images are drawn from the stored figures: the same bytes again
    row = Notification.objects.get(kind=NotificationKind.WEEKLY_REPORT)
    assert row.status == NotificationStatus.SENT
    stored = {chart["cid"]: chart for chart in row.context["charts"]}
    for part in images:
        cid = str(part["Content-ID"]).strip("<>")
        assert render_chart(stored[cid]) == part.get_payload(decode=True)


def test_a_chart_that_cannot_be_drawn_leaves_its_alt_text_and_the_email_goes(
    db, mail_config, smtp_server, caplog
):
    # given a written report whose first chart's stored data is broken
    report_config(mail_config, support_staff_addresses="team@acme.example")
    ticket(WEEK_START + timedelta(hours=10), category="shipping")
    (row,) = send_weekly_report(now=MONDAY_8, settings=load_settings())
    charts = row.context["charts"]
    broken = charts[0]["cid"]
    charts[0]["current"] = "not numbers"
    row.save(update_fields=["context"])
    # when it is delivered
    result = deliver_notification(row.pk, settings=load_settings())
    # then the email went with the other charts, the broken one by its alt text
    assert result.status == NotificationStatus.SENT
    (mail,) = smtp_server.wait_for(1)
    cids = {
        str(part["Content-ID"]).strip("<>")
        for part in mail.message.walk()
        if part.get_content_type() == "image/png"
    }
    assert cids == {chart["cid"] for chart in charts[1:]}
    assert f'src="cid:{broken}" alt="Bar chart' in mail.body("html")
    assert "Could not draw chart 'volume'" in caplog.text


# --- rendering


def statistics(**overrides: Any) -> Statistics:
    fields: dict[str, Any] = {
        "channel": None,
        "start": WEEK_START,
        "end": datetime(2026, 11, 30, tzinfo=BERLIN),
        "previous_start": datetime(2026, 11, 16, tzinfo=BERLIN),
        "figures": (
            Figure("tickets_opened", "Tickets opened", "count", 1204, 1000),
            Figure("first_response_median", "First response", "hours", 2.5, 3.25),
            Figure("csat", "CSAT", "percent", 87.5, 90.0),
            Figure("nps", "NPS", "points", -12.0, 5.0),
            Figure(
                "price_refunded_amount", "Refunds", "money", None, Decimal(8), "EUR"
            ),
            Figure("deflection_rate", "Deflection rate", "percent", None, None),
        ),
        "breakdowns": {"proactive_updates_sent": {"shipped": 12}},
        "previous_breakdowns": {"proactive_updates_sent": {"shipped": 9}},
        "amounts": {
            "price_refunded_amount": {"EUR": Decimal("12.00"), "USD": Decimal(5)}
        },
    }
    fields.update(overrides)
    return Statistics(**fields)


def sample_report(**overrides: Any) -> Report:
    return Report(
        statistics=statistics(**overrides),
        topics=(Topic("shipping", "Shipping", 3, 1), Topic("other", "Other", 1, 0)),
        keywords=(Keyword("broken", 2),),
        low_rated=(
            LowRatedTicket(
                "T-7", "Zip <b>", 1, "", datetime(2026, 11, 25, tzinfo=BERLIN), ""
            ),
        ),
    )


def test_the_report_renders_every_figure_in_html_and_text():
    # when the report of a week is rendered as the staff email
    settings = berlin()
    context = report_context(sample_report(), settings, store="Acme & Co")
    rendered = render_email(
        NotificationKind.WEEKLY_REPORT, context, language_code="de", settings=settings
    )
    # then it is in English (staff email), every figure has its row and change
    assert rendered.language == "en"
    assert rendered.subject == "Weekly support report 23–29 Nov 2026"
    for line in (
        "- Tickets opened: 1,204 / 1,000 / +204 (+20 %)",
        "- First response: 2.5 h / 3.3 h / −0.8 h",
        "- CSAT: 87.5 % / 90.0 % / −2.5 pp",
        "- NPS: −12 / +5 / −17",
        "- Refunds: 12.00 EUR + 5.00 USD / 8.00 EUR / n/a",
        "- Deflection rate: n/a / n/a / n/a",
        "- Shipping: 3 tickets, 75 % (before: 1)",
        "Recurring words in ticket subjects: broken (2)",
        "- T-7 (CSAT 1 of 5) Zip <b>",
        "- Shipped: 12 (before: 9)",
    ):
        assert line in rendered.text
    assert "Acme &amp; Co" in rendered.html
    assert "Zip &lt;b&gt;" in rendered.html
    assert ">T-7</td>" in rendered.html  # no link without a ticket page
    assert "{{" not in rendered.subject + rendered.text + rendered.html
    # every chart is an inline image with alt text; figures without any value
    # (deflection) are left out
    for chart in context["charts"]:
        assert f'src="cid:{chart["cid"]}"' in rendered.html
        assert chart["alt"].startswith("Bar chart")
    volume = next(c for c in context["charts"] if c["name"] == "volume")
    assert volume["labels"] == ["Tickets opened", "Refunds"]
    assert [c["name"] for c in context["charts"]] == [
        "volume",
        "rates",
        "times",
        "topics",
    ]


def test_charts_are_png_the_same_every_time_and_bad_data_is_refused():
    context = report_context(sample_report(), berlin())
    for chart in context["charts"]:
        png = render_chart(chart)
        assert png.startswith(PNG_MAGIC)
        assert render_chart(dict(chart)) == png
    with pytest.raises(ChartError, match="unknown chart type 'pie'"):
        render_chart({"type": "pie"})
    with pytest.raises(ChartError, match="values do not match the labels"):
        render_chart({"type": "bars", "labels": ["a", "b"], "values": [1]})
    with pytest.raises(ChartError, match="a value is not a number"):
        render_chart({"type": "bars", "labels": ["a"], "values": ["1"]})


# --- topics and the lowest-rated tickets


def test_topics_count_categories_and_keywords_skip_numbers_addresses_and_stopwords(db):
    monday = WEEK_START + timedelta(hours=10)
    for subject, category in (
        ("Parcel broken on arrival", "shipping"),
        ("Broken zipper", "return"),
        ("Zipper stuck", "return"),
        ("Rückgabe: Größe falsch", "return"),
        ("Rückgabe bitte", "return"),
        ("Order 1042 question bob@example.com", "order_status"),
        ("Order 1042 help bob@example.com", "order_status"),
        # follow-ups a survey opened: our words, not the customer's
        ("Your feedback on ticket T-7", "feedback"),
        ("Your feedback on ticket T-8", "feedback"),
    ):
        ticket(monday, subject=subject, category=category)
    # spam and a duplicate merged away: no customer contact of their own
    ticket(monday, subject="Broken prices BUY", category="shipping", tags=("spam",))
    ticket(monday, subject="Zipper broken", category="return", tags=("merged",))
    ticket(monday - timedelta(days=2), subject="Broken again", category="return")
    ticket(monday, subject="Broken elsewhere", category="shipping", channel="b2b")
    end = WEEK_START + timedelta(days=7)
    previous = WEEK_START - timedelta(days=7)

    # when the week's keywords are read, for all channels and for one
    every = subject_keywords(channel=None, start=WEEK_START, end=end)
    default = subject_keywords(channel="default-channel", start=WEEK_START, end=end)

    # then recurring customer words count once per ticket
    assert every == (
        Keyword("broken", 3),
        Keyword("rückgabe", 2),
        Keyword("zipper", 2),
    )
    assert default == (
        Keyword("broken", 2),
        Keyword("rückgabe", 2),
        Keyword("zipper", 2),
    )
    assert top_topics(
        channel="default-channel", start=WEEK_START, end=end, previous_start=previous
    ) == (
        Topic("return", "Return", 4, 1),
        Topic("feedback", "Feedback", 2, 0),
        Topic("order_status", "Order status", 2, 0),
        Topic("shipping", "Shipping", 1, 0),
    )


def test_lowest_rated_are_csat_at_or_below_the_threshold_lowest_first(db):
    monday = WEEK_START + timedelta(hours=10)
    one, two, three, outside = (ticket(monday) for _ in range(4))
    rate(three, 3, monday + timedelta(hours=1))
    rate(two, 2, monday + timedelta(hours=2), comment="Slow\n\n answer " + "x" * 400)
    # a score the customer never submitted counts as well (it stays answered)
    rate(one, 1, monday + timedelta(hours=3), submitted=False)
    rate(outside, 1, WEEK_START - timedelta(minutes=1))
    end = WEEK_START + timedelta(days=7)
    linked = berlin(ticket_url_template="https://desk.example/{{ticket_id}}/{{token}}")

    rows = lowest_rated(channel=None, start=WEEK_START, end=end, settings=linked)

    assert [(row.reference, row.score) for row in rows] == [
        (one.reference, 1),
        (two.reference, 2),
    ]
    assert rows[1].comment.startswith("Slow answer xxx")
    assert len(rows[1].comment) == 300
    assert rows[0].url.startswith("https://desk.example/U3VwcG9ydFRpY2tldD")
    assert rows[0].url.endswith("/")
    plain = lowest_rated(channel=None, start=WEEK_START, end=end, settings=berlin())
    assert [row.url for row in plain] == ["", ""]
    stricter = berlin(csat_detractor_max="1")
    assert (
        len(lowest_rated(channel=None, start=WEEK_START, end=end, settings=stricter))
        == 1
    )


def test_the_report_reads_eleven_queries_however_many_topics_and_low_scores(
    db, django_assert_num_queries
):
    # given an empty week, then five low-rated tickets in five categories
    end = WEEK_START + timedelta(days=7)
    settings = berlin(ticket_url_template="https://desk.example/t/{{number}}")

    def build() -> Report:
        return build_report(
            channel="default-channel", start=WEEK_START, end=end, settings=settings
        )

    # the statistics' five statements in their transaction (savepoint, SET
    # LOCAL jit, release), the topics, the keywords, the lowest-rated tickets
    with django_assert_num_queries(11):
        assert build().low_rated == ()
    monday = WEEK_START + timedelta(hours=10)
    for category in ("shipping", "return", "refund", "other", "order_status"):
        made = ticket(monday, subject="Broken lid", category=category)
        rate(made, 1, monday + timedelta(hours=1), comment="Still broken")

    # when / then: no query per topic or per low-rated ticket
    with django_assert_num_queries(11):
        report = build()
    assert len(report.topics) == len(report.low_rated) == 5
    assert {row.url for row in report.low_rated} == {
        f"https://desk.example/t/{row.reference[2:]}" for row in report.low_rated
    }


# --- the command


def run_report(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("support_report", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_is_found_in_the_plugins_app():
    assert get_commands()["support_report"] == "saleor_support_plugin"


def test_the_command_prints_the_report_and_writes_csv_and_pngs(
    db, support_config, tmp_path
):
    # given tickets in November (Berlin) and one in October
    report_config(support_config)
    for day in (2, 3, 10, 24):
        ticket(datetime(2026, 11, day, 12, tzinfo=BERLIN), category="shipping")
    ticket(datetime(2026, 10, 20, 12, tzinfo=BERLIN))
    csv_path, png_dir = tmp_path / "figures.csv", tmp_path / "charts"

    # when the report of November is made
    out, err = run_report(
        "--from", "2026-11-01", "--to", "2026-12-01",
        "--csv", str(csv_path), "--png", str(png_dir),
    )  # fmt: skip

    # then it prints the month against October
    assert out.startswith("Support report 1–30 Nov 2026\nAgainst 2–31 Oct 2026.")
    assert "- Tickets opened: 4 / 1 / +3 (+300 %)" in out
    assert "- Shipping: 4 tickets, 100 % (before: 0)" in out
    # with a progress bar: five weeks (the last one two days) and the whole month
    assert f"[{'#' * 30}] 6/6 the whole period" in err
    # the CSV has every figure of the month, then of each week
    rows = list(csv.DictReader(csv_path.open()))
    month = {row["key"]: row for row in rows if row["scope"] == "period"}
    assert month["tickets_opened"]["value"] == "4"
    assert month["tickets_opened"]["previous"] == "1"
    assert month["tickets_opened"]["period_start"] == "2026-11-01T00:00:00+01:00"
    weeks = [row for row in rows if row["scope"] == "week"]
    assert len(weeks) == 5 * len(month)
    assert [
        (row["period_start"][:10], row["value"])
        for row in weeks
        if row["key"] == "tickets_opened"
    ] == [
        ("2026-11-01", "2"),
        ("2026-11-08", "1"),
        ("2026-11-15", "0"),
        ("2026-11-22", "1"),
        ("2026-11-29", "0"),
    ]
    # and each chart as a PNG, the weekly trends too
    names = sorted(path.name for path in png_dir.iterdir())
    assert {"volume.png", "topics.png", "weekly_count.png"} <= set(names)
    for path in png_dir.iterdir():
        assert path.read_bytes().startswith(PNG_MAGIC)


def test_the_command_reports_a_period_ending_on_the_last_day_of_year_9999(
    db, support_config
):
    # given a period whose week-by-week steps reach the end of the calendar
    report_config(support_config)

    # when
    out, _err = run_report("--from", "9999-12-20", "--to", "9999-12-31")

    # then
    assert out.startswith("Support report 20–30 Dec 9999\nAgainst 9–19 Dec 9999.")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_progress_and_notices_are_not_coloured_as_errors(
    db, support_config, tmp_path
):
    # given a terminal that shows colours (Django paints stderr red there, for errors)
    report_config(support_config)
    err = Terminal()
    command = support_report.Command(stdout=io.StringIO(), stderr=err, force_color=True)

    # when
    call_command(
        command,
        "--from", "2026-11-01", "--to", "2026-11-15", "--csv", str(tmp_path / "f.csv"),
    )  # fmt: skip

    # then
    assert "\x1b[" not in err.getvalue()
    assert f"[{'#' * 30}] 3/3 the whole period" in err.getvalue()
    assert "Figures written to" in err.getvalue()


def test_the_command_for_one_week_has_no_progress_bar(db, support_config):
    report_config(support_config)
    out, err = run_report("--from", "2026-11-23", "--to", "2026-11-30")
    assert out.startswith("Support report 23–29 Nov 2026\n")
    assert err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--from", "2026-11-31", "--to", "2026-12-01"],
            "--from must be a date such as 2026-11-01, not '2026-11-31'.",
        ),
        (
            ["--from", "2026-11-01", "--to", "next week"],
            "--to must be a date such as 2026-11-01, not 'next week'.",
        ),
        (
            ["--from", "2026-12-01", "--to", "2026-12-01"],
            "--to must be a later day than --from.",
        ),
        (
            ["--from", "2025-01-01", "--to", "2026-12-01"],
            "The period may be at most 400 days long.",
        ),
        (
            ["--from", "2026-11-01", "--to", "2026-12-01", "--channel", "nope"],
            "No orders in channel 'nope' (channels: default-channel).",
        ),
        (
            ["--from", "0001-01-01", "--to", "0001-01-08"],
            "The period and the one before it must lie within the years 1 to 9999.",
        ),
        (["--to", "2026-12-01"], "Error: the following arguments are required: --from"),
    ],
)
def test_bad_arguments_are_a_clear_command_error(db, support_config, args, message):
    OrderSnapshotFactory.create(channel_slug="default-channel")
    with pytest.raises(CommandError) as error:
        run_report(*args)
    assert str(error.value) == message


def test_bad_output_paths_are_a_clear_command_error(db, support_config, tmp_path):
    period = ["--from", "2026-11-23", "--to", "2026-11-30"]
    with pytest.raises(CommandError) as error:
        run_report(*period, "--csv", str(tmp_path / "missing" / "f.csv"))
    assert (
        str(error.value) == f"--csv: the folder {tmp_path / 'missing'} does not exist."
    )
    (tmp_path / "file").write_text("")
    with pytest.raises(CommandError) as error:
        run_report(*period, "--png", str(tmp_path / "file"))
    assert str(error.value) == f"--png {tmp_path / 'file'} is a file; give a folder."
    with pytest.raises(CommandError) as error:
        run_report(*period, "--csv", str(tmp_path))
    assert str(error.value) == f"--csv {tmp_path} is a folder; give a file name."
