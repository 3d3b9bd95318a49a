"""Ticket lists side by side with django-helpdesk, on the same data, in one run.

Run: `.venv/bin/python -m benchmarks.helpdesk_compare [--runs 30] [--json FILE]`.

First `benchmarks.ticket_list` (loads `support_bench_tickets` if needed and
measures our three pages). Then, when HELPDESK_BENCH_PYTHON names the python of
a virtualenv with django-helpdesk installed (set up by hand, outside this
repository: see benchmarks/README.md), that python runs the helpdesk side's
script (HELPDESK_BENCH_SCRIPT, default `bench_helpdesk.py` next to the
virtualenv's directory) with our database as its source: it copies the same
tickets and messages into helpdesk's tables in its own database on the same
PostgreSQL server, measures helpdesk's listings and prints JSON, which is
printed here next to our figures with the ratios. The two sides run one after
the other, never at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from . import ticket_list
from ._common import out, table

# (what is compared, our case, helpdesk's case)
PAIRS = (
    ("staff list, newest 50", "staff list", "ui staff list"),
    ("staff list, REST API", "staff list", "api staff list"),
    ("staff search", "staff search", "ui staff search"),
    ("customer's own list", "customer list", "api customer list"),
)

HELPDESK_DATABASE = "helpdesk_bench"


def helpdesk_command() -> tuple[list[str] | None, str]:
    """Return the command prefix of the helpdesk side, or None and why not."""
    python = os.environ.get("HELPDESK_BENCH_PYTHON", "").strip()
    if not python:
        return None, "HELPDESK_BENCH_PYTHON is not set (see benchmarks/README.md)"
    interpreter = Path(python).absolute()
    if not os.access(interpreter, os.X_OK):
        return None, f"HELPDESK_BENCH_PYTHON={python} is not an executable"
    script = Path(
        os.environ.get("HELPDESK_BENCH_SCRIPT")
        or interpreter.parent.parent.parent / "bench_helpdesk.py"
    )
    if not script.is_file():
        return None, f"no helpdesk benchmark script at {script} (HELPDESK_BENCH_SCRIPT)"
    return [str(interpreter), str(script)], ""


def helpdesk_database_url(ours: str) -> str:
    """Helpdesk's database: HELPDESK_BENCH_DATABASE_URL, or ours' server."""
    explicit = os.environ.get("HELPDESK_BENCH_DATABASE_URL")
    if explicit:
        return explicit
    parts = urlsplit(ours)
    return urlunsplit(parts._replace(path=f"/{HELPDESK_DATABASE}"))


def run_helpdesk(
    command: list[str], source_url: str, runs: int, max_seconds: float
) -> dict[str, Any]:
    env = {
        **os.environ,
        "HELPDESK_BENCH_DATABASE_URL": helpdesk_database_url(source_url),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)  # ours; the script sets its own
    env.pop("DATABASE_URL", None)
    completed = subprocess.run(
        [
            *command,
            "--source-url",
            source_url,
            "--runs",
            str(runs),
            "--search",
            ticket_list.SEARCH,
            "--max-seconds",
            str(max_seconds),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(command[1]).parent,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the helpdesk side exited with {completed.returncode}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _ratio(theirs: float, ours: float) -> str:
    if ours <= 0:
        return "-"
    ratio = theirs / ours
    return f"{ratio:,.0f}x" if ratio >= 10 else f"{ratio:.1f}x"


def _total(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_comparison(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    versions = ", ".join(f"{name} {v}" for name, v in theirs["versions"].items())
    out(f"django-helpdesk side: {theirs['database']}, {versions}")
    out(
        f"  data: {theirs['data']['tickets']:,} tickets, "
        f"{theirs['data']['followups']:,} follow-ups (copied from ours)"
    )
    ours_by_name = {case["name"]: case for case in ours["cases"]}
    theirs_by_name = {case["name"]: case for case in theirs["cases"]}
    out()
    out("requests (helpdesk side):")
    for case in theirs["cases"]:
        out(f"  {case['name']:<18} {case['request']}")
    out()
    pairs = [
        (label, other, ours_by_name[mine], theirs_by_name[other])
        for label, mine, other in PAIRS
    ]
    out("time per request, ms (ratio = helpdesk median / our median):")
    table(
        [
            "page of 50",
            "helpdesk case",
            "ours median",
            "helpdesk median",
            "ratio",
            "ours p95",
            "helpdesk p95",
            "runs",
        ],
        [
            [
                label,
                other,
                f"{a['median_ms']:,.1f}",
                f"{b['median_ms']:,.1f}",
                _ratio(b["median_ms"], a["median_ms"]),
                f"{a['p95_ms']:,.1f}",
                f"{b['p95_ms']:,.1f}",
                f"{a['runs']} / {b['runs']}",
            ]
            for label, other, a, b in pairs
        ],
    )
    out()
    out("SQL of one request (DB ms: time in the database driver; the rest is Python):")
    table(
        [
            "page of 50",
            "helpdesk case",
            "ours SQL",
            "helpdesk SQL",
            "ours DB ms",
            "helpdesk DB ms",
            "rows",
            "matches",
            "bytes",
        ],
        [
            [
                label,
                other,
                a["queries"],
                f"{b['queries']:,}",
                f"{a['sql_ms']:,.1f}",
                f"{b['sql_ms']:,.1f}",
                f"{a['rows']} / {b['rows']}",
                f"{_total(a['total'])} / {_total(b['total'])}",
                f"{a['response_bytes']:,} / {b['response_bytes']:,}",
            ]
            for label, other, a, b in pairs
        ],
    )
    out()
    out("most frequent statements of one request, helpdesk side:")
    for case in theirs["cases"]:
        out(f"  {case['name']}:")
        for count, sql in case["top_statements"][:3]:
            out(f"    {count:>7,} x {sql[:100]}")
    out()
    out("slowest statement of one request:")
    for side, cases in (("ours", ours["cases"]), ("helpdesk", theirs["cases"])):
        for case in cases:
            out(
                f"  {side:<8} {case['name']:<18} {case['slowest_sql_ms']:>8.1f} ms  "
                f"{case['slowest_sql'][:90]}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed requests per page")
    parser.add_argument(
        "--helpdesk-max-seconds",
        type=float,
        default=1800,
        help="stop a helpdesk case's timed runs once they took this long",
    )
    parser.add_argument("--json", type=Path, help="also write both reports here")
    parser.add_argument(
        "--reseed", action="store_true", help="reload our data even if present"
    )
    args = parser.parse_args()

    ours = ticket_list.run(args.runs, reseed=args.reseed)
    ticket_list.print_report(ours)
    out()
    command, why_not = helpdesk_command()
    theirs: dict[str, Any] | None = None
    if command is None:
        out(f"skipped: django-helpdesk side: {why_not}")
    else:
        out(f"django-helpdesk side: {' '.join(command)}")
        try:
            theirs = run_helpdesk(
                command, ours["database"], args.runs, args.helpdesk_max_seconds
            )
        except (RuntimeError, ValueError, IndexError) as exc:
            out(f"failed: django-helpdesk side: {exc}")
            sys.exit(1)
        print_comparison(ours, theirs)
    if args.json is not None:
        args.json.write_text(json.dumps({"ours": ours, "helpdesk": theirs}, indent=2))
        out(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
