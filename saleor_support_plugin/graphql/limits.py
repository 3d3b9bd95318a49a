"""Query depth and cost limits, checked on the parsed document before execution."""

from __future__ import annotations

from dataclasses import dataclass

from graphql.language import ast

MAX_DEPTH = 8
MAX_COST = 2_000
PAGE_ARGUMENTS = ("first", "last")


class QueryTooExpensive(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Walker:
    fragments: dict[str, ast.FragmentDefinition]
    variables: dict

    def _page_size(self, field: ast.Field) -> int:
        for argument in field.arguments or []:
            if argument.name.value in PAGE_ARGUMENTS:
                value = argument.value
                if isinstance(value, ast.IntValue):
                    return max(1, int(value.value))
                if isinstance(value, ast.Variable):
                    raw = self.variables.get(value.name.value)
                    if isinstance(raw, int):
                        return max(1, raw)
        return 1

    def walk(
        self, selection_set: ast.SelectionSet | None, depth: int, seen: frozenset[str]
    ) -> tuple[int, int]:
        """Return (depth, cost) of a selection set; cost multiplies by page sizes."""
        if selection_set is None:
            return depth, 0
        max_depth, cost = depth, 0
        for selection in selection_set.selections:
            if isinstance(selection, ast.Field):
                child_depth, child_cost = self.walk(
                    selection.selection_set, depth + 1, seen
                )
                max_depth = max(max_depth, child_depth)
                cost += 1 + self._page_size(selection) * child_cost
            elif isinstance(selection, ast.InlineFragment):
                child_depth, child_cost = self.walk(
                    selection.selection_set, depth, seen
                )
                max_depth, cost = max(max_depth, child_depth), cost + child_cost
            elif isinstance(selection, ast.FragmentSpread):
                name = selection.name.value
                fragment = self.fragments.get(name)
                if fragment is None or name in seen:
                    continue  # validation reports unknown or cyclic fragments
                child_depth, child_cost = self.walk(
                    fragment.selection_set, depth, seen | {name}
                )
                max_depth, cost = max(max_depth, child_depth), cost + child_cost
            if max_depth > MAX_DEPTH:
                raise QueryTooExpensive(
                    "QUERY_TOO_DEEP",
                    f"The query is nested deeper than {MAX_DEPTH} levels.",
                )
            if cost > MAX_COST:
                raise QueryTooExpensive(
                    "QUERY_TOO_COMPLEX",
                    f"The query would cost more than {MAX_COST} points.",
                )
        return max_depth, cost


def check_limits(document: ast.Document, variables: dict | None) -> None:
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, ast.FragmentDefinition)
    }
    walker = _Walker(fragments, variables or {})
    total = 0
    for definition in document.definitions:
        if isinstance(definition, ast.OperationDefinition):
            _, cost = walker.walk(definition.selection_set, 0, frozenset())
            total += cost
            if total > MAX_COST:
                raise QueryTooExpensive(
                    "QUERY_TOO_COMPLEX",
                    f"The query would cost more than {MAX_COST} points.",
                )
