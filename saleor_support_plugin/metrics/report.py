"""The service report: the figures against the period before, topics, low scores, charts.

`build_report` gathers what the report shows (the statistics, the top ticket
categories and recurring subject keywords, the lowest-rated tickets);
`report_context` turns it into the plain JSON the outbox stores with the weekly
email; `render_chart` draws one of its charts as PNG from that JSON, so
delivery (and a retry) renders the same images from the stored figures.
Charts use matplotlib's Agg canvas directly: no pyplot, no GUI, no global
figure state, and matplotlib is imported only when a chart is drawn.
"""

from __future__ import annotations

import io
import textwrap
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connections
from django.db.models import Count, Q, QuerySet

from ..conf import SupportSettings
from ..core.money import format_money
from ..notifications.kinds import NotificationKind
from ..orders.models import OrderSnapshot
from ..ports import read_replica
from ..surveys.models import Survey, SurveyKind
from ..tickets.models import UNCOUNTED_TAGS, Ticket, TicketCategory, ticket_reference
from ..tickets.notifications import ticket_url
from .data import Figure, Statistics, breakdown_label
from .statistics import compute_statistics

# Units whose figures share one axis in a chart; the rest (counts, money) get a
# row each, scaled to itself, since tickets and euros share no scale.
SHARED_AXIS_UNITS = ("percent", "points")
TOP_TOPICS = 8
TOP_KEYWORDS = 10
LOWEST_RATED = 10
COMMENT_LENGTH = 300
# A subject word counts as recurring from this many tickets in the period.
KEYWORD_MIN_TICKETS = 2
MAX_CHART_ROWS = 30

# Words that say nothing about a topic (English and German, the built-in
# languages, and the words of every support request).
STOPWORDS = frozenset(
    """
    about after again all also and any are because been before but can cannot could did
    does doing for from get got had has have having her here him his how into its just
    more most not now off once only other our out over own same she should some still
    such than that the their them then there these they this those through too under
    until very was were what when where which while who why will with would you your
    yours hello please thanks thank regards question questions help need issue problem
    order orders ticket support dear urgent asap fwd
    aber alle als also am an auch auf aus bei bin bis bitte da damit dann das dass dem
    den der des die dies diese doch dort durch ein eine einem einen einer eines für
    gibt habe haben hallo hat hatte ich ihr ihre im ist jetzt kann kein keine mein
    meine meinem meiner mich mir mit nach nicht noch nur oder ohne schon sehr sein
    sich sie sind über und uns unsere vom von vor war waren warum was weil wenn wer
    wie wieder wir wird wo zu zum zur danke frage problem bestellung anfrage
    """.split()
)

# 512 CSS pixels wide in the email (its column), drawn at twice that for sharp
# text on high-density screens: 9 pt at 200 dpi shows at about 12 px.
WIDTH_INCHES = 5.12
DPI = 200
COLOR_CURRENT = "#1f4fd1"
COLOR_PREVIOUS = "#a1a1aa"
COLOR_TEXT = "#18181b"
COLOR_MUTED = "#52525b"


@dataclass(frozen=True)
class Topic:
    """A ticket category with its tickets in the period and in the period before."""

    key: str
    label: str
    count: int
    previous: int


@dataclass(frozen=True)
class Keyword:
    word: str
    count: int


@dataclass(frozen=True)
class LowRatedTicket:
    reference: str
    subject: str
    score: int
    comment: str
    answered_at: datetime
    url: str


@dataclass(frozen=True)
class Report:
    statistics: Statistics
    topics: tuple[Topic, ...]
    keywords: tuple[Keyword, ...]
    low_rated: tuple[LowRatedTicket, ...]
    # Week-by-week statistics of a long period (the command); empty for one week.
    weeks: tuple[Statistics, ...] = ()


def build_report(
    *,
    channel: str | None,
    start: datetime,
    end: datetime,
    settings: SupportSettings,
    statistics: Statistics | None = None,
    weeks: tuple[Statistics, ...] = (),
) -> Report:
    """Gather the report of [start, end): computes the statistics unless given."""
    if statistics is None:
        statistics = compute_statistics(channel=channel, start=start, end=end)
    # Heavy reads that may lag a little: Saleor's replica when it has one.
    using = read_replica()
    return Report(
        statistics=statistics,
        topics=top_topics(
            channel=channel,
            start=start,
            end=end,
            previous_start=statistics.previous_start,
            using=using,
        ),
        keywords=subject_keywords(channel=channel, start=start, end=end, using=using),
        low_rated=lowest_rated(
            channel=channel, start=start, end=end, settings=settings, using=using
        ),
        weeks=weeks,
    )


def _tickets(channel: str | None, using: str) -> QuerySet[Ticket]:
    # Spam and merged duplicates are no customer contact (as in the statistics).
    tickets = Ticket.objects.using(using).exclude(tags__overlap=list(UNCOUNTED_TAGS))
    return tickets.filter(order__channel_slug=channel) if channel else tickets


def top_topics(
    *,
    channel: str | None,
    start: datetime,
    end: datetime,
    previous_start: datetime,
    limit: int = TOP_TOPICS,
    using: str = "default",
) -> tuple[Topic, ...]:
    """Count the period's new tickets by category, most first (and the period before)."""
    rows = (
        _tickets(channel, using)
        .filter(created_at__gte=previous_start, created_at__lt=end)
        .values("category")
        .annotate(
            current=Count("pk", filter=Q(created_at__gte=start)),
            previous=Count("pk", filter=Q(created_at__lt=start)),
        )
        .filter(current__gt=0)
        .order_by("-current", "category")[:limit]
    )
    labels = dict(TicketCategory.choices)
    return tuple(
        Topic(
            key=row["category"],
            label=str(labels.get(row["category"], row["category"])),
            count=row["current"],
            previous=row["previous"],
        )
        for row in rows
    )


def subject_keywords(
    *,
    channel: str | None,
    start: datetime,
    end: datetime,
    limit: int = TOP_KEYWORDS,
    using: str = "default",
) -> tuple[Keyword, ...]:
    """Words that recur in the subjects of the period's tickets, in how many tickets.

    PostgreSQL's text-search parser splits the subjects (Unicode words whatever the
    database locale; each word once per ticket); numbers, addresses and host names
    are left out, and so are follow-ups a survey opened (their subject is ours).
    """
    ticket_table = Ticket._meta.db_table
    order_table = OrderSnapshot._meta.db_table
    channel_join = (
        f'JOIN "{order_table}" o ON o.id = t.order_id AND o.channel_slug = %s'
        if channel
        else ""
    )
    sql = f"""
        SELECT word.lexeme, count(*) AS tickets
        FROM "{ticket_table}" t
        {channel_join}
        CROSS JOIN LATERAL unnest(to_tsvector('simple', t.subject)) AS word
        WHERE t.created_at >= %s AND t.created_at < %s
          AND t.category <> %s
          AND NOT (t.tags && %s::varchar[])
          AND length(word.lexeme) >= 3
          AND word.lexeme !~ '[0-9@./:_]'
          AND NOT (word.lexeme = ANY(%s))
        GROUP BY word.lexeme
        HAVING count(*) >= %s
        ORDER BY tickets DESC, word.lexeme
        LIMIT %s
    """  # noqa: S608 (table names are our models'; values are parameters)
    params: list[Any] = [channel] if channel else []
    params += [
        start,
        end,
        TicketCategory.FEEDBACK.value,
        list(UNCOUNTED_TAGS),
        sorted(STOPWORDS),
        KEYWORD_MIN_TICKETS,
        limit,
    ]
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return tuple(Keyword(word, count) for word, count in cursor.fetchall())


def lowest_rated(
    *,
    channel: str | None,
    start: datetime,
    end: datetime,
    settings: SupportSettings,
    limit: int = LOWEST_RATED,
    using: str = "default",
) -> tuple[LowRatedTicket, ...]:
    """List the tickets whose CSAT answer in the period was low (≤ the detractor threshold)."""
    surveys = Survey.objects.using(using).filter(
        kind=SurveyKind.CSAT,
        ticket__isnull=False,
        score__isnull=False,
        score__lte=settings.csat_detractor_max,
        answered_at__gte=start,
        answered_at__lt=end,
    )
    if channel:
        surveys = surveys.filter(channel_slug=channel)
    rows = surveys.select_related("ticket").order_by("score", "answered_at", "pk")[
        :limit
    ]
    result = []
    for survey in rows:
        ticket = survey.ticket
        assert ticket is not None
        assert survey.score is not None
        assert survey.answered_at is not None
        comment = " ".join(survey.comment.split())
        if len(comment) > COMMENT_LENGTH:
            comment = comment[: COMMENT_LENGTH - 1] + "…"
        result.append(
            LowRatedTicket(
                reference=ticket_reference(ticket.number),
                subject=ticket.subject,
                score=survey.score,
                comment=comment,
                answered_at=survey.answered_at,
                url=ticket_url(ticket, settings, with_token=False),
            )
        )
    return tuple(result)


# --- formatting


def _number(value: float | Decimal, decimals: int) -> str:
    # Half up, as people round (a float's format rounds 3.25 to 3.2).
    exact = Decimal(str(value)).quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)
    return f"{exact:,f}"


def format_value(
    unit: str, value: float | Decimal | int | None, currency: str = ""
) -> str:
    """Format a figure as staff read it: 1,204 · 87.5 % · 3.2 h · 12.00 EUR · +42."""
    if value is None:
        return "n/a"
    if unit == "money":
        return (
            format_money(Decimal(str(value)), currency)
            if currency
            else _number(float(value), 2)
        )
    if unit == "percent":
        return f"{_number(float(value), 1)} %"
    if unit == "hours":
        return f"{_number(float(value), 1)} h"
    if unit == "points":
        return ("−" if value < 0 else "+") + _number(abs(Decimal(str(value))), 0)
    if isinstance(value, int) or float(value).is_integer():
        return _number(float(value), 0)
    return _number(float(value), 1)


def format_change(
    unit: str,
    value: float | Decimal | int | None,
    previous: float | Decimal | int | None,
    currency: str = "",
) -> str:
    """Format the change against the previous period: +4 (+12 %) · −2.5 pp · +1.0 h."""
    if value is None or previous is None:
        return "n/a"
    delta = Decimal(str(value)) - Decimal(str(previous))
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    size = abs(delta)
    if unit == "money":
        text = format_money(size, currency) if currency else _number(float(size), 2)
    elif unit == "percent":
        return f"{sign}{_number(float(size), 1)} pp"
    elif unit == "hours":
        return f"{sign}{_number(float(size), 1)} h"
    elif unit == "points":
        return f"{sign}{_number(size, 0)}"
    else:
        text = _number(float(size), 0 if size == size.to_integral_value() else 1)
    if previous and unit in ("count", "money"):
        ratio = abs(float(delta / Decimal(str(previous)) * 100))
        return f"{sign}{text} ({sign}{ratio:.0f} %)"
    return f"{sign}{text}"


def _raw(value: float | Decimal | int | None) -> float | None:
    return None if value is None else float(value)


def _local_date_label(start: datetime, end: datetime, zone: ZoneInfo) -> str:
    """23–29 Nov 2026 (the last day shown is the one before `end`)."""
    first = start.astimezone(zone).date()
    last = (end.astimezone(zone) - timedelta(microseconds=1)).date()
    if first == last:
        return f"{first.day} {first:%b %Y}"
    if (first.year, first.month) == (last.year, last.month):
        return f"{first.day}–{last.day} {last:%b %Y}"
    if first.year == last.year:
        return f"{first.day} {first:%b} – {last.day} {last:%b %Y}"
    return f"{first.day} {first:%b %Y} – {last.day} {last:%b %Y}"


# --- the email's data


def _value_text(
    figure: Figure,
    value: float | Decimal | int | None,
    amounts: dict[str, dict[str, Decimal]],
) -> str:
    """Format a value; money in several currencies (no single value) per currency."""
    per_currency = amounts.get(figure.key) or {}
    if value is None and figure.unit == "money" and per_currency:
        return " + ".join(
            format_money(amount, currency)
            for currency, amount in sorted(per_currency.items())
        )
    return format_value(figure.unit, value, figure.currency)


def report_context(
    report: Report,
    settings: SupportSettings,
    *,
    title: str = "Weekly support report",
    current_label: str = "This week",
    previous_label: str = "Last week",
    cid_domain: str = "support.saleor-plugin",
    store: str = "",
) -> dict[str, Any]:
    """Build the report's template context, plain JSON (the outbox stores it)."""
    stats = report.statistics
    zone = ZoneInfo(settings.business_timezone)
    figures = [
        {
            "key": figure.key,
            "label": figure.label,
            "unit": figure.unit,
            "currency": figure.currency,
            "value": _value_text(figure, figure.value, stats.amounts),
            "previous": _value_text(figure, figure.previous, stats.previous_amounts),
            "change": format_change(
                figure.unit, figure.value, figure.previous, figure.currency
            ),
            "raw_value": _raw(figure.value),
            "raw_previous": _raw(figure.previous),
        }
        for figure in stats.figures
    ]
    total = sum(topic.count for topic in report.topics)
    data: dict[str, Any] = {
        "period": {
            "start": stats.start.astimezone(zone).date().isoformat(),
            "end": stats.end.astimezone(zone).date().isoformat(),
            "label": _local_date_label(stats.start, stats.end, zone),
            "previous_label": _local_date_label(
                stats.previous_start, stats.start, zone
            ),
            "timezone": settings.business_timezone,
        },
        "channel": stats.channel or "",
        "title": title,
        "csat_threshold": settings.csat_detractor_max,
        "current_label": current_label,
        "previous_label": previous_label,
        "figures": figures,
        "topics": [
            {
                "key": topic.key,
                "label": topic.label,
                "count": topic.count,
                "previous": topic.previous,
                "share": f"{topic.count / total * 100:.0f} %" if total else "n/a",
            }
            for topic in report.topics
        ],
        "keywords": [
            {"word": keyword.word, "count": keyword.count}
            for keyword in report.keywords
        ],
        "low_rated": [
            {
                "reference": item.reference,
                "subject": item.subject,
                "score": item.score,
                "comment": item.comment,
                "url": item.url,
                "answered_at": item.answered_at.astimezone(zone).strftime(
                    "%Y-%m-%d %H:%M"
                ),
            }
            for item in report.low_rated
        ],
        "breakdowns": [
            {
                "key": key,
                "label": key.replace("_", " ").capitalize(),
                # Each table's own headers: a template inside {{#each}} sees its item only.
                "current_label": current_label,
                "previous_label": previous_label,
                "items": [
                    {
                        "label": breakdown_label(label),
                        "count": count,
                        "previous": stats.previous_breakdowns.get(key, {}).get(
                            label, 0
                        ),
                    }
                    for label, count in sorted(
                        counts.items(), key=lambda item: (-item[1], item[0])
                    )
                ],
            }
            for key, counts in sorted(stats.breakdowns.items())
            if counts
        ],
    }
    return {
        "report": data,
        "charts": chart_specs(data, cid_domain=cid_domain),
        "store": {"name": store},
    }


# --- charts


def _compare_spec(
    name: str,
    title: str,
    figures: list[dict[str, Any]],
    data: dict[str, Any],
    *,
    shared: bool,
) -> dict[str, Any]:
    current, previous = data["current_label"], data["previous_label"]
    alt = (
        f"Bar chart, {title.lower()}, {current.lower()} against {previous.lower()}: "
        + "; ".join(
            f"{figure['label']} {figure['value']} ({previous.lower()} {figure['previous']})"
            for figure in figures
        )
    )
    return {
        "name": name,
        "type": "compare",
        "title": title,
        "alt": alt + ".",
        "shared_axis": shared,
        "percent_axis": shared and all(f["unit"] == "percent" for f in figures),
        "labels": [figure["label"] for figure in figures],
        "current": [figure["raw_value"] for figure in figures],
        "previous": [figure["raw_previous"] for figure in figures],
        "current_text": [figure["value"] for figure in figures],
        "previous_text": [figure["previous"] for figure in figures],
        "current_label": current,
        "previous_label": previous,
    }


def chart_specs(data: dict[str, Any], *, cid_domain: str) -> list[dict[str, Any]]:
    """Describe each chart with its data, Content-ID and alt text (the template's `charts`)."""
    figures = [
        figure
        for figure in data["figures"]
        if figure["raw_value"] is not None or figure["raw_previous"] is not None
    ]
    groups = [
        (
            "volume",
            "Volumes",
            [f for f in figures if f["unit"] not in (*SHARED_AXIS_UNITS, "hours")],
            False,
        ),
        (
            "rates",
            "Rates and scores",
            [f for f in figures if f["unit"] in SHARED_AXIS_UNITS],
            True,
        ),
        (
            "times",
            "Times (business hours)",
            [f for f in figures if f["unit"] == "hours"],
            True,
        ),
    ]
    specs = [
        _compare_spec(name, title, group[:MAX_CHART_ROWS], data, shared=shared)
        for name, title, group, shared in groups
        if group
    ]
    topics = data["topics"][:MAX_CHART_ROWS]
    if topics:
        specs.append(
            {
                "name": "topics",
                "type": "bars",
                "title": "Top ticket topics",
                "alt": "Bar chart, tickets by topic: "
                + "; ".join(f"{t['label']} {t['count']}" for t in topics)
                + ".",
                "labels": [topic["label"] for topic in topics],
                "values": [topic["count"] for topic in topics],
            }
        )
    stamp = data["period"]["start"]
    for spec in specs:
        spec["cid"] = f"chart-{spec['name']}-{stamp}@{cid_domain}"
        spec["filename"] = f"{spec['name']}.png"
    return specs


def trend_specs(report: Report) -> list[dict[str, Any]]:
    """Week-by-week lines of a long period (the command's PNGs), one chart per unit."""
    if len(report.weeks) < 2:
        return []
    weeks = report.weeks
    x = [week.start.date().isoformat() for week in weeks]
    specs = []
    for unit, title in (
        ("count", "Weekly volumes"),
        ("percent", "Weekly rates"),
        ("hours", "Weekly times (business hours)"),
    ):
        keys = [f.key for f in weeks[0].figures if f.unit == unit][:8]
        series = [
            {
                "label": weeks[0].figure(key).label,
                "values": [_raw(_figure_or_none(week, key)) for week in weeks],
            }
            for key in keys
        ]
        series = [s for s in series if any(v is not None for v in s["values"])]
        if series:
            specs.append(
                {
                    "name": f"weekly_{unit}",
                    "filename": f"weekly_{unit}.png",
                    "type": "lines",
                    "title": title,
                    "alt": f"Line chart, {title.lower()} per week from {x[0]}.",
                    "x": x,
                    "series": series,
                }
            )
    return specs


def _figure_or_none(statistics: Statistics, key: str) -> float | Decimal | int | None:
    return next((f.value for f in statistics.figures if f.key == key), None)


class ChartError(ValueError):
    """A stored chart description that cannot be drawn."""


_render_lock = threading.Lock()


def _numbers(values: Any, length: int) -> list[float | None]:
    if not isinstance(values, list) or len(values) != length:
        raise ChartError("values do not match the labels")
    result: list[float | None] = []
    for value in values:
        if value is not None and not isinstance(value, int | float):
            raise ChartError("a value is not a number")
        result.append(None if value is None else float(value))
    return result


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ChartError("labels must be strings")
    if not values or len(values) > MAX_CHART_ROWS * 3:
        raise ChartError("a chart needs between 1 and 90 labels")
    return [value[:80] for value in values]


def _wrapped(labels: list[str]) -> list[str]:
    return [textwrap.fill(label, 30) for label in labels]


def render_chart(spec: dict[str, Any]) -> bytes:
    """Draw a chart description as PNG; the same description gives the same bytes."""
    kind = spec.get("type")
    if kind not in ("compare", "bars", "lines"):
        raise ChartError(f"unknown chart type {kind!r}")
    import matplotlib

    # Agg: the raster backend for servers (no display, no GUI toolkit).
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # rcParams are global: draw from matplotlib's defaults whatever the host set,
    # one chart at a time.
    with _render_lock, matplotlib.rc_context():
        matplotlib.rcdefaults()
        matplotlib.rcParams.update(
            {
                "font.family": "DejaVu Sans",
                "font.size": 9,
                "axes.edgecolor": "#d4d4d8",
                "axes.labelcolor": COLOR_TEXT,
                "xtick.color": COLOR_MUTED,
                "ytick.color": COLOR_TEXT,
            }
        )
        if kind == "compare":
            figure = _draw_compare(Figure, spec)
        elif kind == "bars":
            figure = _draw_bars(Figure, spec)
        else:
            figure = _draw_lines(Figure, spec)
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        pixels = canvas.buffer_rgba()
    return _palette_png(bytes(pixels), canvas.get_width_height())


def _palette_png(rgba: bytes, size: tuple[int, int]) -> bytes:
    """Encode as a 64-colour PNG: a third of the bytes of Agg's RGBA, the same to the eye.

    Charts are a few flat colours and anti-aliased edges; the email carries four.
    No metadata (date, software): the bytes depend on the pixels only.
    """
    from PIL import Image  # matplotlib's own dependency

    image = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1).convert("RGB")
    palette = image.quantize(
        colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _figure(figure_class: Any, rows: float) -> Any:
    height = min(1.0 + 0.42 * rows, 12.0)
    figure = figure_class(figsize=(WIDTH_INCHES, height), dpi=DPI, layout="constrained")
    figure.patch.set_facecolor("#ffffff")
    return figure


def _style(axes: Any, title: str) -> None:
    axes.figure.suptitle(
        title, x=0.02, ha="left", fontsize=10, color=COLOR_TEXT, fontweight="bold"
    )
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _draw_compare(figure_class: Any, spec: dict[str, Any]) -> Any:
    labels = _strings(spec.get("labels"))
    current = _numbers(spec.get("current"), len(labels))
    previous = _numbers(spec.get("previous"), len(labels))
    current_text = [str(t) for t in spec.get("current_text") or [""] * len(labels)]
    previous_text = [str(t) for t in spec.get("previous_text") or [""] * len(labels)]
    shared = bool(spec.get("shared_axis"))
    figure = _figure(figure_class, len(labels) * 1.3)
    axes = figure.add_subplot()
    _style(axes, str(spec.get("title", "")))
    positions = list(range(len(labels)))
    height = 0.38

    def scaled(row: int, value: float | None) -> float:
        if value is None:
            return 0.0
        if shared:
            return value
        top = max(abs(v) for v in (current[row], previous[row], 1e-9) if v is not None)
        return value / top

    for offset, values, texts, color, name in (
        (-height / 2, current, current_text, COLOR_CURRENT, spec.get("current_label")),
        (
            height / 2,
            previous,
            previous_text,
            COLOR_PREVIOUS,
            spec.get("previous_label"),
        ),
    ):
        widths = [scaled(row, value) for row, value in enumerate(values)]
        bars = axes.barh(
            [p + offset for p in positions],
            widths,
            height=height,
            color=color,
            label=str(name or ""),
        )
        axes.bar_label(
            bars,
            labels=[
                text if values[row] is not None else "n/a"
                for row, text in enumerate(texts)
            ],
            padding=3,
            fontsize=8,
            color=COLOR_TEXT,
        )
    axes.set_yticks(positions, _wrapped(labels))
    axes.invert_yaxis()
    if shared:
        low = min([0.0, *(v for v in current + previous if v is not None)])
        high = max([0.0, *(v for v in current + previous if v is not None)])
        if spec.get("percent_axis"):
            high = max(high, 100.0)
        axes.set_xlim(low * 1.25 if low < 0 else 0, high * 1.25 or 1)
        axes.axvline(0, color="#d4d4d8", linewidth=0.8)
    else:
        # Each row on its own scale: the bars compare the two periods, the labels give the numbers.
        axes.set_xlim(0, 1.35)
        axes.set_xticks([])
        axes.spines["bottom"].set_visible(False)
    # Above the bars, under the title: never over a bar or its number.
    figure.legend(loc="outside upper right", ncols=2, frameon=False, fontsize=8)
    return figure


def _draw_bars(figure_class: Any, spec: dict[str, Any]) -> Any:
    labels = _strings(spec.get("labels"))
    values = [v or 0.0 for v in _numbers(spec.get("values"), len(labels))]
    figure = _figure(figure_class, len(labels))
    axes = figure.add_subplot()
    _style(axes, str(spec.get("title", "")))
    bars = axes.barh(_wrapped(labels), values, color=COLOR_CURRENT, height=0.6)
    axes.bar_label(bars, labels=[f"{v:,.0f}" for v in values], padding=3, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, max(values + [1.0]) * 1.2)
    axes.xaxis.get_major_locator().set_params(integer=True)
    return figure


def _draw_lines(figure_class: Any, spec: dict[str, Any]) -> Any:
    x = _strings(spec.get("x"))
    series = spec.get("series")
    if not isinstance(series, list) or not series:
        raise ChartError("a line chart needs series")
    figure = figure_class(figsize=(WIDTH_INCHES, 3.4), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    _style(axes, str(spec.get("title", "")))
    for item in series[:8]:
        if not isinstance(item, dict):
            raise ChartError("a series is not an object")
        values = _numbers(item.get("values"), len(x))
        axes.plot(
            range(len(x)),
            [float("nan") if v is None else v for v in values],
            marker="o",
            markersize=3,
            label=str(item.get("label", ""))[:60],
        )
    step = max(1, len(x) // 8)
    axes.set_xticks(range(0, len(x), step), x[::step], rotation=30, ha="right")
    figure.legend(loc="outside upper right", ncols=2, frameon=False, fontsize=8)
    axes.grid(axis="y", color="#e4e4e7", linewidth=0.6)
    return figure


# --- the command's outputs


def report_text(context: dict[str, Any]) -> str:
    """Render the report as plain text: the email's built-in text part (the command prints it)."""
    from ..core import handlebars
    from ..notifications.rendering import builtin_template

    source = builtin_template("en", NotificationKind.WEEKLY_REPORT, "txt")
    return handlebars.parse(source).render(context, escape=False)


def figures_csv_rows(report: Report) -> list[list[str]]:
    """Rows of the raw figures: the whole period, then each week (exact values)."""
    rows = [
        [
            "scope",
            "period_start",
            "period_end",
            "previous_start",
            "key",
            "label",
            "unit",
            "currency",
            "value",
            "previous",
        ]
    ]

    def add(scope: str, statistics: Statistics) -> None:
        for figure in statistics.figures:
            rows.append(
                [
                    scope,
                    statistics.start.isoformat(),
                    statistics.end.isoformat(),
                    statistics.previous_start.isoformat(),
                    figure.key,
                    figure.label,
                    figure.unit,
                    figure.currency,
                    _csv_value(figure.value),
                    _csv_value(figure.previous),
                ]
            )

    add("period", report.statistics)
    for week in report.weeks:
        add("week", week)
    return rows


def _csv_value(value: float | Decimal | int | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)
