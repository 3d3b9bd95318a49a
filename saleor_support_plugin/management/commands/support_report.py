"""`manage.py support_report --from 2026-11-01 --to 2026-12-01`: the service report of any period."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.management.base import (
    BaseCommand,
    CommandError,
    CommandParser,
    OutputWrapper,
)

from ...metrics.data import Statistics
from ...metrics.report import (
    build_report,
    figures_csv_rows,
    render_chart,
    report_context,
    report_text,
    trend_specs,
)
from ...metrics.statistics import MAX_SPAN, clean_period, compute_statistics
from ...orders.models import OrderSnapshot
from ...ports import load_settings, read_replica
from ...surveys.models import Survey


class Progress:
    """A progress bar on stderr: `[#####-----]  5/10 weeks`."""

    WIDTH = 30

    def __init__(self, stream: OutputWrapper, total: int, *, enabled: bool) -> None:
        self.stream, self.total, self.enabled, self.done = stream, total, enabled, 0

    def step(self, what: str) -> None:
        self.done += 1
        if not self.enabled:
            return
        filled = round(self.WIDTH * self.done / self.total)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        # One line redrawn in place (\r); the last step ends it.
        self.stream.write(
            f"\r[{bar}] {self.done:>{len(str(self.total))}}/{self.total} {what:<24}",
            style_func=_plain,
            ending="\n" if self.done == self.total else "",
        )
        self.stream.flush()


def _plain(text: str) -> str:
    # Django paints stderr as errors on a terminal; progress and notices are not.
    return text


def _day(raw: str, option: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise CommandError(
            f"{option} must be a date such as 2026-11-01, not {raw!r}."
        ) from None


def _weeks(first: date, end: date) -> Iterator[tuple[date, date]]:
    # Never a day past `end`: there may be none (9999-12-31).
    day, week = first, timedelta(days=7)
    while end - day > week:
        yield day, day + week
        day += week
    yield day, end


class Command(BaseCommand):
    help = (
        "Print the support report of a period (figures against the period of the same "
        "length before it, top ticket topics, lowest-rated tickets); export the raw "
        "figures as CSV and the charts as PNG. Days are in the business time zone."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--from",
            dest="start",
            required=True,
            metavar="YYYY-MM-DD",
            help="The first day of the period.",
        )
        parser.add_argument(
            "--to",
            dest="end",
            required=True,
            metavar="YYYY-MM-DD",
            help="The day after the period: it ends at that day's midnight "
            "(--from 2026-11-01 --to 2026-12-01 is November).",
        )
        parser.add_argument("--channel", help="Only this channel (slug).")
        parser.add_argument(
            "--csv",
            dest="csv_path",
            metavar="PATH",
            help="Write the raw figures to this CSV file.",
        )
        parser.add_argument(
            "--png",
            dest="png_dir",
            metavar="DIR",
            help="Write the charts as PNG files into this folder.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        settings = load_settings()
        first, end = _day(options["start"], "--from"), _day(options["end"], "--to")
        if end <= first:
            raise CommandError("--to must be a later day than --from.")
        if end - first > MAX_SPAN:
            raise CommandError(f"The period may be at most {MAX_SPAN.days} days long.")
        zone = ZoneInfo(settings.business_timezone)
        start = datetime.combine(first, time(), tzinfo=zone)
        stop = datetime.combine(end, time(), tzinfo=zone)
        try:
            clean_period(start, stop)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        channel = options.get("channel") or None
        if channel is not None:
            self._check_channel(channel)
        csv_path = self._csv_path(options.get("csv_path"))
        png_dir = self._png_dir(options.get("png_dir"))

        weeks = list(_weeks(first, end)) if (end - first).days > 7 else []
        progress = Progress(
            self.stderr,
            len(weeks) + 1,
            enabled=options["verbosity"] > 0 and len(weeks) > 1,
        )
        weekly: list[Statistics] = []
        for week_start, week_end in weeks:
            weekly.append(
                compute_statistics(
                    channel=channel,
                    start=datetime.combine(week_start, time(), tzinfo=zone),
                    end=datetime.combine(week_end, time(), tzinfo=zone),
                )
            )
            progress.step(f"week of {week_start.isoformat()}")
        statistics = compute_statistics(channel=channel, start=start, end=stop)
        progress.step("the whole period")
        report = build_report(
            channel=channel,
            start=start,
            end=stop,
            settings=settings,
            statistics=statistics,
            weeks=tuple(weekly),
        )
        context = report_context(
            report,
            settings,
            title="Support report",
            current_label="This period",
            previous_label="Previous period",
        )
        self.stdout.write(report_text(context), ending="")
        if csv_path is not None:
            self._write_csv(csv_path, figures_csv_rows(report))
        if png_dir is not None:
            self._write_charts(png_dir, [*context["charts"], *trend_specs(report)])

    def _check_channel(self, channel: str) -> None:
        using = read_replica()
        known = set(
            OrderSnapshot.objects.using(using)
            .values_list("channel_slug", flat=True)
            .distinct()
        ) | set(
            Survey.objects.using(using)
            .values_list("channel_slug", flat=True)
            .distinct()
        )
        known.discard("")
        if channel not in known:
            names = ", ".join(sorted(known)) or "none yet"
            raise CommandError(f"No orders in channel {channel!r} (channels: {names}).")

    def _csv_path(self, raw: str | None) -> Path | None:
        if not raw:
            return None
        path = Path(raw)
        if path.is_dir():
            raise CommandError(f"--csv {raw} is a folder; give a file name.")
        if not path.parent.is_dir():
            raise CommandError(f"--csv: the folder {path.parent} does not exist.")
        return path

    def _png_dir(self, raw: str | None) -> Path | None:
        if not raw:
            return None
        path = Path(raw)
        if path.exists() and not path.is_dir():
            raise CommandError(f"--png {raw} is a file; give a folder.")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CommandError(f"--png: cannot create {raw}: {exc.strerror}.") from None
        return path

    def _write_csv(self, path: Path, rows: list[list[str]]) -> None:
        try:
            with path.open("w", newline="", encoding="utf-8") as handle:
                csv.writer(handle).writerows(rows)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        self.stderr.write(
            f"Figures written to {path} ({len(rows) - 1} rows).", style_func=_plain
        )

    def _write_charts(self, folder: Path, specs: list[dict[str, Any]]) -> None:
        for spec in specs:
            target = folder / str(spec["filename"])
            try:
                target.write_bytes(render_chart(spec))
            except OSError as exc:
                raise CommandError(f"Cannot write {target}: {exc.strerror}.") from None
            self.stderr.write(f"Chart written to {target}.", style_func=_plain)
