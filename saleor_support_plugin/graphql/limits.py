r"""Checks on a GraphQL document before it is validated or executed.

Every check here is linear in the size of the document, so that a short query
cannot buy seconds of CPU before it is refused:

1. `scan_query`: length, token count, bracket nesting and number length, with
   graphql-core's lexer in a loop, before the (recursive) parser runs;
   NUL characters and lone surrogates in string literals are refused there too.
2. `parse_query`: the parse itself, with surrogate pairs written as two
   `\u` escapes joined into one character.
3. `check_limits`: fragments are resolved first (unknown, duplicate and cyclic
   fragments refused), then each fragment's shape is computed once, bottom-up,
   and reused wherever it is spread; depth, field counts and the cost of the
   operation that will run are checked on those shapes.

Introspection: inside a top-level `__schema` or `__type`, along a path of
introspection fields only, `ofType` does not count towards `MAX_DEPTH`. It
unwraps one list or non-null wrapper, one object for one, and the standard
introspection queries (graphql-core's, graphql-js's `getIntrospectionQuery`
used by GraphiQL and graphql-codegen) nest it 7 to 9 times. Every level still
counts towards `MAX_INTROSPECTION_DEPTH`, and the fields that fan out
(`types`, `fields`, `type`, ...) count towards `MAX_DEPTH` like any other, so
`types { fields { type { fields ... } } }` is as limited as a real query.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    parse,
)
from graphql.language import ast
from graphql.language.lexer import Lexer, TokenKind
from graphql.language.source import Source
from graphql.utils.type_from_ast import type_from_ast

from .base import MAX_PAGE_SIZE

# Characters of the query string (the JSON-decoded `query`); the body as a
# whole may be up to 1 MB, the rest being variables.
MAX_QUERY_CHARS = 50_000
# Lexical tokens (names, punctuation, numbers, strings) in the query.
MAX_TOKENS = 3_000
# `{`, `[` and `(` open at once, and selection sets entered through fragments:
# graphql-core's parser, validator and executor recurse once per level.
MAX_NESTING = 30
# Digits of a number literal; Python refuses to convert more than 4,300.
MAX_NUMBER_CHARS = 100
# Levels of fields, counted through fragments.
MAX_DEPTH = 8
# Levels of an introspection path, `ofType` included (see the module docstring);
# the standard queries reach 13 (graphql-core 2) to 15 (graphql-js 16).
MAX_INTROSPECTION_DEPTH = 20
# Fields in one operation or fragment, counted through fragments.
MAX_FIELDS = 500
# Top-level fields (aliases included) of one operation, through fragments.
MAX_ROOT_FIELDS = 20
# Fields with the same response name merged into one selection set: the
# validator compares every pair of them.
MAX_SAME_NAME = 20
MAX_FRAGMENTS = 100
# A field costs 1 plus its page size (`first`/`last`) times the cost below it.
MAX_COST = 2_000
PAGE_ARGUMENTS = ("first", "last")

# Top-level fields that enter the introspection types.
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
# Fields of __Schema, __Type, __Field, __InputValue, __EnumValue and __Directive
# (graphql-core 2's and the current specification's, for newer clients).
INTROSPECTION_FIELDS = frozenset(
    {
        "__typename",
        *("description", "types", "queryType", "mutationType", "subscriptionType"),
        *("directives", "kind", "name", "fields", "interfaces", "possibleTypes"),
        *("enumValues", "inputFields", "ofType", "specifiedByURL", "specifiedByUrl"),
        *("isOneOf", "args", "type", "isDeprecated", "deprecationReason"),
        *("defaultValue", "locations", "isRepeatable"),
        *("onOperation", "onFragment", "onField"),
    }
)
# The field that costs no `MAX_DEPTH` level along an introspection path.
UNWRAPPING_FIELD = "ofType"

_OPENING = frozenset({TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L})
_CLOSING = frozenset({TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R})
_NUMBERS = frozenset({TokenKind.INT, TokenKind.FLOAT})


class QueryRefused(Exception):
    """A document we refuse before validation; `code` and `message` go to the client."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# Older name, kept for callers that catch it.
QueryTooExpensive = QueryRefused


def _too_deep() -> QueryRefused:
    return QueryRefused(
        "QUERY_TOO_DEEP", f"The query is nested deeper than {MAX_NESTING} levels."
    )


def _joined_surrogates(value: str) -> str:
    r"""Join surrogate pairs (`\uD83D\uDE00`) into one character; refuse NUL and lone ones."""
    try:
        joined = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
    except UnicodeDecodeError:
        joined = None
    if joined is None or "\x00" in joined:
        raise QueryRefused(
            "INVALID_CHARACTERS",
            "Strings may not contain NUL characters or unpaired surrogates.",
        )
    return joined


def scan_query(query: str) -> bool:
    """Refuse documents too large, too nested or with unstorable strings, before parsing.

    Returns whether some string literal holds a surrogate pair to join after
    parsing. Syntax errors the lexer finds are raised as GraphQLSyntaxError.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryRefused(
            "QUERY_TOO_LARGE",
            f"The query is longer than {MAX_QUERY_CHARS} characters.",
        )
    lexer = Lexer(Source(query))
    tokens = nesting = 0
    has_pairs = False
    while True:
        token = lexer.next_token()
        kind = token.kind
        if kind == TokenKind.EOF:
            return has_pairs
        tokens += 1
        if tokens > MAX_TOKENS:
            raise QueryRefused(
                "TOO_MANY_TOKENS", f"The query has more than {MAX_TOKENS} tokens."
            )
        if kind in _OPENING:
            nesting += 1
            if nesting > MAX_NESTING:
                raise _too_deep()
        elif kind in _CLOSING:
            nesting = max(nesting - 1, 0)  # the parser reports unbalanced brackets
        elif kind in _NUMBERS:
            if token.end - token.start > MAX_NUMBER_CHARS:
                raise QueryRefused(
                    "INVALID_NUMBER",
                    f"Numbers may have at most {MAX_NUMBER_CHARS} characters.",
                )
        elif kind == TokenKind.STRING:
            value = token.value or ""
            if _joined_surrogates(value) != value:
                has_pairs = True


def _nodes(document: ast.Document) -> Iterator[ast.Node]:
    """Every node of the document, without recursion."""
    stack: list[Any] = [document]
    while stack:
        node = stack.pop()
        yield node
        for name in node._fields:
            child = getattr(node, name, None)
            if isinstance(child, ast.Node):
                stack.append(child)
            elif isinstance(child, list):
                stack.extend(item for item in child if isinstance(item, ast.Node))


def parse_query(query: str) -> ast.Document:
    """Scan, then parse; raises QueryRefused or GraphQLSyntaxError."""
    has_pairs = scan_query(query)
    try:
        document = parse(query)
    except RecursionError:
        # Not expected after the scan; a refusal all the same, never a crash.
        raise _too_deep() from None
    if has_pairs:
        for node in _nodes(document):
            if isinstance(node, ast.StringValue):
                node.value = _joined_surrogates(node.value)
    return document


def select_operation(
    document: ast.Document, operation_name: str | None
) -> ast.OperationDefinition:
    """Return the operation that will run, chosen as graphql-core chooses it."""
    operations = [
        definition
        for definition in document.definitions
        if isinstance(definition, ast.OperationDefinition)
    ]
    if operation_name:
        for operation in operations:
            if operation.name is not None and operation.name.value == operation_name:
                return operation
        raise QueryRefused(
            "UNKNOWN_OPERATION", "No operation in the query has that `operationName`."
        )
    if not operations:
        raise QueryRefused("UNKNOWN_OPERATION", "The query has no operation.")
    if len(operations) > 1:
        raise QueryRefused(
            "OPERATION_NAME_REQUIRED",
            "The query has several operations: send `operationName`.",
        )
    return operations[0]


# Where a selection set sits, for depth: a field's context decides whether it
# costs a `MAX_DEPTH` level and in which context its own selection set sits.
_REAL, _ROOT, _INTROSPECTION = 0, 1, 2
_CONTEXTS = (_REAL, _ROOT, _INTROSPECTION)


def _enters(context: int, name: str) -> int:
    """Return the context that the selection set of field `name` sits in."""
    if context == _ROOT and name in INTROSPECTION_ROOTS:
        return _INTROSPECTION
    if context == _INTROSPECTION and name in INTROSPECTION_FIELDS:
        return _INTROSPECTION
    return _REAL


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a selection set amounts to once its fragments are expanded."""

    # Per context (`_REAL`, `_ROOT`, `_INTROSPECTION`): the most levels of
    # fields any path has that count towards MAX_DEPTH, and all its levels.
    # In `_REAL` context both are the plain depth.
    depths: tuple[tuple[int, int], ...]
    nesting: int  # selection sets, inline fragments and spreads entered
    cost: int  # capped at MAX_COST + 1
    fields: int
    names: Mapping[str, int]  # response names at this level, with repeats


def _spreads(selection_set: ast.SelectionSet | None) -> list[str]:
    """Names of the fragments spread anywhere inside a selection set."""
    found: list[str] = []
    stack = [selection_set] if selection_set is not None else []
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, ast.FragmentSpread):
                found.append(selection.name.value)
            elif selection.selection_set is not None:
                stack.append(selection.selection_set)
    return found


def _fragments_in_order(
    document: ast.Document,
) -> list[ast.FragmentDefinition]:
    """Fragments ordered so that each comes after those it spreads.

    Refuses duplicate and unknown fragments and cycles, before any walk that
    follows spreads.
    """
    fragments: dict[str, ast.FragmentDefinition] = {}
    for definition in document.definitions:
        if isinstance(definition, ast.FragmentDefinition):
            name = definition.name.value
            if name in fragments:
                raise QueryRefused(
                    "DUPLICATE_FRAGMENT", f'The fragment "{name}" is defined twice.'
                )
            fragments[name] = definition
    if len(fragments) > MAX_FRAGMENTS:
        raise QueryRefused(
            "TOO_MANY_FRAGMENTS",
            f"The query defines more than {MAX_FRAGMENTS} fragments.",
        )
    spreads = {name: _spreads(f.selection_set) for name, f in fragments.items()}
    for definition in document.definitions:
        if isinstance(definition, ast.OperationDefinition):
            used = _spreads(definition.selection_set)
        elif isinstance(definition, ast.FragmentDefinition):
            used = spreads[definition.name.value]
        else:
            continue
        for name in used:
            if name not in fragments:
                raise QueryRefused(
                    "UNKNOWN_FRAGMENT", f'The fragment "{name}" is not defined.'
                )
    # Depth-first search without recursion: grey while on the path, black when done.
    order: list[ast.FragmentDefinition] = []
    state: dict[str, str] = {}
    for root in fragments:
        if root in state:
            continue
        state[root] = "grey"
        path: list[tuple[str, Iterator[str]]] = [(root, iter(spreads[root]))]
        while path:
            name, pending = path[-1]
            child = next(pending, None)
            if child is None:
                path.pop()
                state[name] = "black"
                order.append(fragments[name])
            elif state.get(child) == "grey":
                raise QueryRefused(
                    "FRAGMENT_CYCLE", f'The fragment "{child}" spreads itself.'
                )
            elif child not in state:
                state[child] = "grey"
                path.append((child, iter(spreads[child])))
    return order


class _Measure:
    """Shapes of selection sets, each fragment computed once."""

    def __init__(
        self, variables: Mapping[str, Any], operation: ast.OperationDefinition
    ) -> None:
        self.variables = variables
        self.defaults = {
            definition.variable.name.value: definition.default_value
            for definition in operation.variable_definitions or []
        }
        self.fragments: dict[str, _Shape] = {}

    def _number(self, value: ast.Node | None) -> int:
        """Return the page size an argument will really have; the maximum when unknown."""
        if isinstance(value, ast.Variable):
            name = value.name.value
            if name in self.variables:
                given = self.variables[name]
                if isinstance(given, int) and not isinstance(given, bool):
                    return given
                return MAX_PAGE_SIZE
            value = self.defaults.get(name)
        if isinstance(value, ast.IntValue):
            return int(value.value)
        return MAX_PAGE_SIZE

    def _page_size(self, field: ast.Field) -> int:
        sizes = [
            self._number(argument.value)
            for argument in field.arguments or []
            if argument.name.value in PAGE_ARGUMENTS
        ]
        return min(max([1, *sizes]), MAX_COST + 1)

    def selection_set(self, selection_set: ast.SelectionSet) -> _Shape:
        # Recursion over nested selection sets only (bounded by the scan);
        # fragments are looked up, never walked again.
        nesting = cost = fields = 0
        depths = [(0, 0)] * len(_CONTEXTS)
        has_leaf = False  # a leaf is one level in every context
        names: dict[str, int] = {}
        for selection in selection_set.selections:
            if isinstance(selection, ast.Field):
                child = (
                    self.selection_set(selection.selection_set)
                    if selection.selection_set is not None
                    else None
                )
                response = (selection.alias or selection.name).value
                names[response] = names.get(response, 0) + 1
                fields += 1
                cost += 1
                name = selection.name.value
                if child is None and name != UNWRAPPING_FIELD:
                    has_leaf = True
                else:
                    depths = _field_depths(depths, name, child)
                if child is not None:
                    nesting = max(nesting, child.nesting)
                    cost += self._page_size(selection) * child.cost
                    fields += child.fields
                continue
            if isinstance(selection, ast.FragmentSpread):
                child = self.fragments[selection.name.value]
            else:
                child = self.selection_set(selection.selection_set)
            depths = [
                (max(counted, child_counted), max(length, child_length))
                for (counted, length), (child_counted, child_length) in zip(
                    depths, child.depths, strict=True
                )
            ]
            nesting = max(nesting, child.nesting)
            cost += child.cost
            fields += child.fields
            if fields > MAX_FIELDS:
                break  # refused below; no need to merge more names
            for response, count in child.names.items():
                names[response] = names.get(response, 0) + count
        if has_leaf:
            depths = [(max(counted, 1), max(length, 1)) for counted, length in depths]
        shape = _Shape(
            depths=tuple(depths),
            nesting=nesting + 1,
            cost=min(cost, MAX_COST + 1),
            fields=fields,
            names=names,
        )
        _check_shape(shape)
        return shape


def _field_depths(
    depths: list[tuple[int, int]], name: str, child: _Shape | None
) -> list[tuple[int, int]]:
    """`depths` of a selection set once field `name` (selecting `child`) is added."""
    added = []
    for context, (counted, length) in enumerate(depths):
        level = 0 if context == _INTROSPECTION and name == UNWRAPPING_FIELD else 1
        below = (0, 0) if child is None else child.depths[_enters(context, name)]
        added.append((max(counted, level + below[0]), max(length, 1 + below[1])))
    return added


def _check_shape(shape: _Shape) -> None:
    if shape.nesting > MAX_NESTING:
        raise _too_deep()
    if shape.fields > MAX_FIELDS:
        raise QueryRefused(
            "TOO_MANY_FIELDS", f"The query selects more than {MAX_FIELDS} fields."
        )
    if shape.names and max(shape.names.values()) > MAX_SAME_NAME:
        raise QueryRefused(
            "TOO_MANY_FIELDS",
            f"A field is selected more than {MAX_SAME_NAME} times in one place.",
        )


def check_limits(
    document: ast.Document,
    variables: Mapping[str, Any] | None,
    operation_name: str | None = None,
) -> ast.OperationDefinition:
    """Refuse documents too deep, too wide or too costly; return the operation that will run.

    Cost uses the values the operation will really run with: the variables
    sent, else the variable's default, else the largest page size.
    """
    selected = select_operation(document, operation_name)
    fragments = _fragments_in_order(document)
    measure = _Measure(variables or {}, selected)
    for fragment in fragments:
        measure.fragments[fragment.name.value] = measure.selection_set(
            fragment.selection_set
        )
    # Every operation is validated, so each must fit; only the selected one runs.
    for definition in document.definitions:
        if not isinstance(definition, ast.OperationDefinition):
            continue
        shape = measure.selection_set(definition.selection_set)
        counted, length = shape.depths[_ROOT]
        if counted > MAX_DEPTH:
            raise QueryRefused(
                "QUERY_TOO_DEEP", f"The query is nested deeper than {MAX_DEPTH} levels."
            )
        if length > MAX_INTROSPECTION_DEPTH:
            raise QueryRefused(
                "QUERY_TOO_DEEP",
                "The introspection query is nested deeper than "
                f"{MAX_INTROSPECTION_DEPTH} levels.",
            )
        if sum(shape.names.values()) > MAX_ROOT_FIELDS:
            raise QueryRefused(
                "TOO_MANY_FIELDS",
                f"An operation may select at most {MAX_ROOT_FIELDS} top-level fields.",
            )
        if definition is selected and shape.cost > MAX_COST:
            raise QueryRefused(
                "QUERY_TOO_COMPLEX",
                f"The query would cost more than {MAX_COST} points.",
            )
    return selected


_INT_RANGE = range(-(2**31), 2**31)


def _scalar_ok(value: Any, scalar: GraphQLScalarType) -> bool:
    """Strict input coercion: graphql-core 2 would turn `{}` into the String "{}"."""
    if isinstance(value, bool):
        return scalar.name == "Boolean"
    if scalar.name == "Int":
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return isinstance(value, int) and value in _INT_RANGE
    if scalar.name == "Float":
        return isinstance(value, int | float) and math.isfinite(value)
    if scalar.name == "ID":
        return isinstance(value, str | int)
    if not isinstance(value, str):
        return False  # String, Boolean and text scalars such as DateTime
    if scalar.name in ("String", "Boolean"):
        return scalar.name == "String"
    try:
        return scalar.parse_value(value) is not None
    except (ValueError, TypeError, OverflowError):
        return False


def _value_problem(value: Any, input_type: Any) -> str | None:
    """Why a variable value does not fit its type; None when it does."""
    if isinstance(input_type, GraphQLNonNull):
        if value is None:
            return f"expected {input_type}, found null"
        input_type = input_type.of_type
    if value is None:
        return None
    if isinstance(input_type, GraphQLList):
        items = value if isinstance(value, list) else [value]
        for item in items:
            problem = _value_problem(item, input_type.of_type)
            if problem:
                return problem
        return None
    if isinstance(input_type, GraphQLInputObjectType):
        if not isinstance(value, dict):
            return f"expected an object for {input_type}"
        fields = input_type.fields
        for key in value:
            if key not in fields:
                return f'{input_type} has no field "{key}"'
        for key, field in fields.items():
            problem = _value_problem(value.get(key), field.type)
            if problem:
                return problem
        return None
    if isinstance(input_type, GraphQLEnumType):
        if isinstance(value, str) and input_type.get_value(value) is not None:
            return None
        return f"expected a value of {input_type}"
    if isinstance(input_type, GraphQLScalarType) and _scalar_ok(value, input_type):
        return None
    return f"expected {input_type}"


def check_variables(
    schema: GraphQLSchema,
    operation: ast.OperationDefinition,
    variables: Mapping[str, Any],
) -> None:
    """Refuse variable values that do not fit their declared types, before execution.

    Run after validation (the types exist). Missing required variables are
    left to graphql-core, which reports them as GraphQL errors.
    """
    for definition in operation.variable_definitions or []:
        name = definition.variable.name.value
        if name not in variables:
            continue
        variable_type = type_from_ast(schema, definition.type)
        problem = (
            _value_problem(variables[name], variable_type)
            if variable_type is not None
            else "unknown type"
        )
        if problem:
            raise QueryRefused(
                "INVALID_VARIABLES", f'Variable "${name}" is not valid: {problem}.'
            )
