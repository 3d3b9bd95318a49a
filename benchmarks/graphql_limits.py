"""The GraphQL endpoint's checks before execution, on adversarial documents.

Run: `.venv/bin/python -m benchmarks.graphql_limits [--repeats 21]`.

Each shape is built twice: at about 100 KB (what the issue measured; the size
cap refuses these at once) and scaled to just under the caps, which is the most
an attacker can make the checks do. For each document it prints the outcome
(the refusal code, or `accepted`), its size in characters and lexical tokens,
and the median time of `--repeats` runs of the checks the view runs before
looking up the caller: the lexer scan (size, tokens, nesting, strings), the
parse, and `check_limits` (fragments, depth, fields, cost). For accepted
documents graphql-core's validation, which runs next, is timed apart.

No database, no HTTP: the functions the view calls, in one process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from ._common import out, table

TARGET = "milliseconds"


def fragment_doubling(levels: int, last: str) -> str:
    """`F0 { ...F1 ...F1 }`, each level spreading the next twice (2**levels paths)."""
    fragments = " ".join(
        f"fragment F{i} on SupportTicket {{ ...F{i + 1} ...F{i + 1} }}"
        for i in range(levels)
    )
    return (
        "{ supportTickets(first: 1) { edges { node { ...F0 } } } } "
        f"{fragments} fragment F{levels} on SupportTicket {{ {last} }}"
    )


def nested_lists(levels: int) -> str:
    return (
        "{ supportTickets(first: 1, filter: {status: "
        + "[" * levels
        + "]" * levels
        + "}) { totalCount } }"
    )


def nested_selections(levels: int) -> str:
    return "{ " + "a { " * levels + "b" + " }" * levels + " }"


def root_aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: supportVersion" for i in range(count)) + " }"


def node_aliases(count: int) -> str:
    fields = " ".join(f"a{i}: subject" for i in range(count))
    return "{ supportTickets(first: 1) { edges { node { " + fields + " } } } }"


def many_tokens(count: int) -> str:
    return "{ supportTickets(first: 1) { edges { node { " + "id " * count + "} } } }"


def big_list_value(count: int) -> str:
    values = ", ".join(["OPEN"] * count)
    return (
        "{ supportTickets(first: 1, filter: {status: [" + values + "]}) "
        "{ totalCount } }"
    )


def distinct_fragments(count: int) -> str:
    spreads = " ".join(f"...F{i}" for i in range(count))
    fragments = " ".join(
        f"fragment F{i} on SupportTicket {{ a{i}: id }}" for i in range(count)
    )
    return (
        "{ supportTickets(first: 1) { edges { node { "
        + spreads
        + " } } } } "
        + fragments
    )


def merged_repeats(count: int) -> str:
    """`node { subject × count }` × count: the validator compares the merged pairs."""
    inner = " ".join(["subject"] * count)
    nodes = " ".join(f"node {{ {inner} }}" for _ in range(count))
    return "{ supportTickets(first: 1) { edges { " + nodes + " } } }"


def long_string(chars: int) -> str:
    return (
        '{ supportTickets(first: 1, filter: {search: "'
        + "x" * chars
        + '\\u0000"}) { totalCount } }'
    )


def grow(build: Callable[[int], str], chars: int) -> str:
    """Return the largest `build(n)` not longer than `chars` (n found by bisection)."""
    low, high = 1, 1
    while len(build(high)) <= chars:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if len(build(middle)) <= chars:
            low = middle
        else:
            high = middle
    return build(low)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()

    from graphql import GraphQLError, validate
    from graphql.language.lexer import Lexer, TokenKind
    from graphql.language.source import Source

    from saleor_support_plugin.graphql import limits
    from saleor_support_plugin.graphql.schema import schema

    def tokens(query: str) -> int:
        lexer, count = Lexer(Source(query)), 0
        try:
            while lexer.next_token().kind != TokenKind.EOF:
                count += 1
        except GraphQLError:
            pass
        return count

    def checks(query: str) -> tuple[str, Any]:
        try:
            document = limits.parse_query(query)
            limits.check_limits(document, {}, None)
        except limits.QueryRefused as exc:
            return exc.code, None
        except GraphQLError:
            return "GRAPHQL_ERROR", None
        return "accepted", document

    def median_ms(run: Callable[[], object]) -> float:
        samples = []
        for _ in range(args.repeats):
            start = time.perf_counter_ns()
            run()
            samples.append(time.perf_counter_ns() - start)
        return statistics.median(samples) / 1e6

    under = limits.MAX_QUERY_CHARS
    shapes: list[tuple[str, str]] = [
        ("issue: 917-byte doubling chain", fragment_doubling(18, "...Missing")),
        (
            "doubling chain, unknown end, 100 KB",
            grow(lambda n: fragment_doubling(n, "...Missing"), 100_000),
        ),
        ("nested lists, 100 KB", grow(nested_lists, 100_000)),
        ("root aliases, 100 KB", grow(root_aliases, 100_000)),
        ("tokens, 100 KB", grow(many_tokens, 100_000)),
        ("string with NUL, 100 KB", grow(long_string, 100_000)),
        (
            "doubling chain, unknown end, <50 KB",
            grow(lambda n: fragment_doubling(n, "...Missing"), under),
        ),
        ("doubling chain, real end, 90 levels", fragment_doubling(90, "id")),
        ("nested lists, <50 KB", grow(nested_lists, under)),
        ("nested selection sets, <50 KB", grow(nested_selections, under)),
        ("root aliases, <50 KB", grow(root_aliases, under)),
        ("tokens, <50 KB", grow(many_tokens, under)),
        ("string with NUL, <50 KB", grow(long_string, under - 100)),
        ("accepted: 490 aliased fields", node_aliases(490)),
        ("accepted: 99 distinct fragments", distinct_fragments(99)),
        ("accepted: list value of 2,980 tokens", big_list_value(2_980)),
        ("accepted: 20 x 20 same-name fields", merged_repeats(20)),
        ("accepted: 20 root fields", root_aliases(20)),
    ]
    rows = []
    for name, query in shapes:
        outcome, document = checks(query)
        checks_ms = median_ms(lambda: checks(query))  # noqa: B023 (runs now)
        validate_ms = "-"
        if document is not None:
            parsed = document
            validate_ms = f"{median_ms(lambda: validate(schema, parsed)):.1f}"  # noqa: B023
        rows.append(
            (
                name,
                f"{len(query):,}",
                f"{tokens(query):,}",
                outcome,
                f"{checks_ms:.2f}",
                validate_ms,
                TARGET,
            )
        )
    out(
        f"GraphQL pre-execution checks, median of {args.repeats} runs "
        f"(caps: {limits.MAX_QUERY_CHARS:,} chars, {limits.MAX_TOKENS:,} tokens, "
        f"nesting {limits.MAX_NESTING}, {limits.MAX_FIELDS} fields, cost {limits.MAX_COST:,})"
    )
    out()
    table(
        ["shape", "chars", "tokens", "outcome", "checks ms", "validate ms", "target"],
        rows,
    )


if __name__ == "__main__":
    main()
