"""Hostile requests to the GraphQL endpoint: each answers a coded 4xx, never a 500 or a logged traceback."""

from __future__ import annotations

import json
import logging
import string
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from saleor_support_plugin.graphql import limits
from sandbox.accounts.tokens import create_access_token

from .fixtures.graphql import GRAPHQL_URL

QUERY_SEARCH = """
query search($search: String) {
  supportTickets(first: 1, filter: {search: $search}) { totalCount }
}
"""

QUERY_FILTER = """
query f($f: SupportTicketFilterInput) { supportTickets(first: 1, filter: $f) { totalCount } }
"""

QUERY_PAGE = "query page($n: Int) { supportTickets(first: $n) { totalCount } }"


def post_body(client: Client, body: bytes | str, **extra: Any):
    return client.post(GRAPHQL_URL, data=body, content_type="application/json", **extra)


def post_json(client: Client, payload: dict[str, Any], **extra: Any):
    return post_body(client, json.dumps(payload), **extra)


def error_code(response) -> str:
    return json.loads(response.content)["errors"][0]["extensions"]["code"]


def logged_tracebacks(caplog) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.levelno >= logging.ERROR and record.exc_info
    ]


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def fragment_doubling_chain(levels: int, last: str) -> str:
    """`F0 { ...F1 ...F1 }` ... each level spreads the next twice: 2**levels paths."""
    fragments = " ".join(
        f"fragment F{i} on SupportTicket {{ ...F{i + 1} ...F{i + 1} }}"
        for i in range(levels)
    )
    return (
        "{ supportTickets(first: 1) { edges { node { ...F0 } } } } "
        f"{fragments} fragment F{levels} on SupportTicket {{ {last} }}"
    )


def test_fragment_doubling_chain_ending_in_an_unknown_fragment_is_refused_first(
    client, db, caplog
):
    # given 18 levels of doubling spreads ending in a fragment that does not exist
    query = fragment_doubling_chain(18, "...Missing")
    assert len(query) < 1_000
    # when
    response = post_json(client, {"query": query})
    # then unknown fragments are refused before anything follows spreads
    assert response.status_code == 400
    assert error_code(response) == "UNKNOWN_FRAGMENT"
    assert logged_tracebacks(caplog) == []


def test_fragment_doubling_chain_is_measured_once_per_fragment(client, db):
    # given the same chain ending in a real field: 2**40 paths if walked
    query = fragment_doubling_chain(40, "id")
    # when
    response = post_json(client, {"query": query})
    # then the repeated spreads are counted from each fragment's memoized shape
    assert response.status_code == 400
    assert error_code(response) == "TOO_MANY_FIELDS"


def test_fragment_cycle_is_refused_with_a_code(client, db, caplog):
    # given
    query = (
        "{ supportTickets(first: 1) { edges { node { ...A } } } } "
        "fragment A on SupportTicket { id ...B } fragment B on SupportTicket { ...A }"
    )
    # when
    response = post_json(client, {"query": query})
    # then
    assert response.status_code == 400
    assert error_code(response) == "FRAGMENT_CYCLE"
    assert logged_tracebacks(caplog) == []


def test_long_chain_of_fragments_is_refused_as_too_deep(client, db):
    # given each fragment spreads the next: graphql-core recurses once per link
    fragments = " ".join(
        f"fragment F{i} on SupportTicket {{ ...F{i + 1} }}" for i in range(60)
    )
    query = (
        "{ supportTickets(first: 1) { edges { node { id ...F0 } } } } "
        f"{fragments} fragment F60 on SupportTicket {{ id }}"
    )
    # when
    response = post_json(client, {"query": query})
    # then
    assert response.status_code == 400
    assert error_code(response) == "QUERY_TOO_DEEP"


@pytest.mark.parametrize(
    "query",
    [
        # nested list values
        "{ supportTickets(first: 1, filter: {status: "
        + "[" * 5_000
        + "]" * 5_000
        + "}) { totalCount } }",
        # nested object values
        "{ supportTickets(first: 1, filter: "
        + "{a: " * 3_000
        + "1"
        + "}" * 3_000
        + ") { totalCount } }",
        # selection sets
        "{ " + "a { " * 300 + "b" + " }" * 300 + " }",
        # inline fragments
        "{ " + "... on Query { " * 500 + "supportVersion" + " }" * 500 + " }",
    ],
    ids=["lists", "objects", "selection-sets", "inline-fragments"],
)
def test_deep_nesting_is_refused_before_the_recursive_parser(client, db, query, caplog):
    # when
    response = post_json(client, {"query": query})
    # then
    assert response.status_code == 400
    assert error_code(response) == "QUERY_TOO_DEEP"
    assert logged_tracebacks(caplog) == []


def test_brackets_in_strings_and_comments_do_not_count_as_nesting(client, db):
    # given brackets that are text, not structure, and the same number for real
    levels = limits.MAX_NESTING + 1
    as_text = (
        '{ supportTickets(first: 1, filter: {search: "' + "[{(" * levels + '"}) '
        "{ totalCount } } # " + "{" * levels
    )
    as_structure = (
        "{ supportTickets(first: 1, filter: {status: "
        + "[" * levels
        + "]" * levels
        + "}) { totalCount } }"
    )
    # when
    text = post_json(client, {"query": as_text})
    structure = post_json(client, {"query": as_structure})
    # then
    assert text.status_code == 200
    assert json.loads(text.content)["data"]["supportTickets"]["totalCount"] == 0
    assert structure.status_code == 400
    assert error_code(structure) == "QUERY_TOO_DEEP"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("{ " + "supportVersion " * (limits.MAX_TOKENS + 1) + "}", "TOO_MANY_TOKENS"),
        (
            '{ supportTickets(first: 1, filter: {search: "'
            + "x" * limits.MAX_QUERY_CHARS
            + '"}) { totalCount } }',
            "QUERY_TOO_LARGE",
        ),
        (
            "{ supportTickets(first: " + "9" * 5_000 + ") { totalCount } }",
            "INVALID_NUMBER",
        ),
    ],
    ids=["tokens", "characters", "number"],
)
def test_oversized_documents_are_refused_with_a_code(client, db, query, code):
    # when
    response = post_json(client, {"query": query})
    # then
    assert response.status_code == 400
    assert error_code(response) == code


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 50_000 + b"]" * 50_000, "JSON_TOO_DEEP"),
        (
            json.dumps({"query": "{ supportVersion }", "variables": {"a": nested(40)}}),
            "JSON_TOO_DEEP",
        ),
        (
            b'{"query": "{ supportVersion }", "variables": {"s": "a\\u0000"}}',
            "INVALID_CHARACTERS",
        ),
        (
            b'{"query": "{ supportVersion }", "variables": {"s": "\\ud800"}}',
            "INVALID_CHARACTERS",
        ),
    ],
    ids=["deep-array", "deep-variables", "nul-variable", "surrogate-variable"],
)
def test_hostile_json_bodies_are_400_with_code(client, db, body, code, caplog):
    # when
    response = post_body(client, body)
    # then
    assert response.status_code == 400
    assert error_code(response) == code
    assert logged_tracebacks(caplog) == []


@pytest.mark.parametrize("length", ["abc", "-1", "1e3"])
def test_content_length_that_is_not_a_number_is_400(client, db, length):
    # when
    response = post_body(
        client, json.dumps({"query": "{ supportVersion }"}), CONTENT_LENGTH=length
    )
    # then
    assert response.status_code == 400
    assert error_code(response) == "INVALID_CONTENT_LENGTH"


@pytest.mark.parametrize(
    "literal", ["a\\u0000", "\\ud800", "\\udc00 x", "\\ud83d"], ids=repr
)
def test_nul_and_lone_surrogates_in_string_literals_are_refused(
    customer_api_client, literal, caplog
):
    # given a string literal whose escapes decode to text PostgreSQL cannot store
    query = (
        f'{{ supportTickets(first: 1, filter: {{search: "{literal}"}}) '
        "{ totalCount } }"
    )
    # when
    response = customer_api_client.post_graphql(query)
    # then
    assert response.status_code == 400
    assert error_code(response) == "INVALID_CHARACTERS"
    assert logged_tracebacks(caplog) == []


def test_nul_in_a_variable_is_refused(customer_api_client, caplog):
    # when
    response = customer_api_client.post_graphql(QUERY_SEARCH, {"search": "a\x00"})
    # then
    assert response.status_code == 400
    assert error_code(response) == "INVALID_CHARACTERS"
    assert logged_tracebacks(caplog) == []


def test_surrogate_pair_escapes_are_joined_into_one_character(
    customer_api_client, support_config
):
    # given a subject with an emoji written as two escapes, as JSON encoders do
    query = (
        'mutation { supportTicketCreate(input: {subject: "\\ud83d\\ude00 mug", '
        'body: "It broke."}) { ticket { subject } errors { code } } }'
    )
    # when
    response = customer_api_client.post_graphql(query)
    # then the ticket stores the real character
    assert response.status_code == 200, response.content
    result = json.loads(response.content)["data"]["supportTicketCreate"]
    assert result == {"ticket": {"subject": "\U0001f600 mug"}, "errors": []}


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (QUERY_PAGE, {"n": [1]}),
        (QUERY_PAGE, {"n": {"a": 1}}),
        (QUERY_PAGE, {"n": "10"}),
        (QUERY_FILTER, {"f": {"slaDueWithinHours": 2**40}}),
        (QUERY_PAGE, {"n": True}),
        (QUERY_SEARCH, {"search": {"a": 1}}),
        (QUERY_SEARCH, {"search": ["a"]}),
        (QUERY_SEARCH, {"search": 5}),
        (
            QUERY_FILTER,
            {"f": {"status": [{"x": 1}]}},
        ),
        (
            QUERY_FILTER,
            {"f": {"nope": 1}},
        ),
        (
            QUERY_FILTER,
            {"f": "not an object"},
        ),
    ],
    ids=[
        "list-for-int",
        "object-for-int",
        "string-for-int",
        "int-out-of-range",
        "bool-for-int",
        "object-for-string",
        "list-for-string",
        "int-for-string",
        "object-for-enum",
        "unknown-input-field",
        "string-for-input",
    ],
)
def test_variables_of_the_wrong_type_are_refused_with_a_code(
    customer_api_client, query, variables, caplog
):
    # when
    response = customer_api_client.post_graphql(query, variables)
    # then
    assert response.status_code == 400, response.content
    assert error_code(response) == "INVALID_VARIABLES"
    assert logged_tracebacks(caplog) == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (
            {"query": "query A { supportVersion }", "operationName": "B"},
            "UNKNOWN_OPERATION",
        ),
        (
            {"query": "query A { supportVersion } query B { supportVersion }"},
            "OPERATION_NAME_REQUIRED",
        ),
        (
            {"query": "fragment F on Query { supportVersion }"},
            "UNKNOWN_OPERATION",
        ),
    ],
    ids=["unknown-name", "several-without-name", "no-operation"],
)
def test_operation_selection_errors_are_coded(client, db, payload, code, caplog):
    # when
    response = post_json(client, payload)
    # then
    assert response.status_code == 400
    assert error_code(response) == code
    assert logged_tracebacks(caplog) == []


def test_only_the_selected_operation_runs(client, db):
    # given two operations, the second one too expensive
    expensive = " ".join(
        f"t{i}: supportTickets(first: 100) {{ edges {{ node {{ id messages {{ id }} }} }} }}"
        for i in range(5)
    )
    query = f"query A {{ supportVersion }} query B {{ {expensive} }}"
    # when
    cheap = post_json(client, {"query": query, "operationName": "A"})
    costly = post_json(client, {"query": query, "operationName": "B"})
    # then
    assert cheap.status_code == 200
    assert json.loads(cheap.content)["data"] == {"supportVersion": "0.1.0"}
    assert costly.status_code == 400
    assert error_code(costly) == "QUERY_TOO_COMPLEX"


def test_global_id_with_a_non_uuid_inside_answers_like_a_missing_ticket(
    customer_api_client, caplog
):
    # given "SupportTicket:not-a-uuid"
    ticket_id = "U3VwcG9ydFRpY2tldDpub3QtYS11dWlk"
    # when
    response = customer_api_client.post_graphql(
        "query t($id: ID!) { supportTicket(id: $id) { id } }", {"id": ticket_id}
    )
    # then
    content = json.loads(response.content)
    assert response.status_code == 200
    assert content == {"data": {"supportTicket": None}}
    assert logged_tracebacks(caplog) == []


# --- property test: arbitrary requests never answer 5xx or log a traceback ---

NAMES = st.sampled_from(
    [
        "supportVersion",
        "supportTickets",
        "supportTicket",
        "edges",
        "node",
        "id",
        "a",
        "F",
        "__typename",
    ]
)
PLAIN_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12
)
# NUL, lone surrogates and everything else, less often, so requests also get past the checks
HOSTILE_TEXT = st.text(alphabet=st.characters(exclude_categories=()), max_size=12)
TEXT = st.one_of(
    PLAIN_TEXT,
    PLAIN_TEXT,
    PLAIN_TEXT,
    HOSTILE_TEXT,
    st.sampled_from(["\x00", "\ud800", "\udfff", "\U0001f600", '"', "\\", "#"]),
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | TEXT,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=12,
)


def _escaped(text: str) -> str:
    r"""Return a GraphQL string literal, escaping quotes, controls and surrogates as \uXXXX."""
    out = []
    for char in text:
        if char in '"\\' or ord(char) < 0x20 or 0xD800 <= ord(char) <= 0xDFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


GRAPHQL_VALUES = st.recursive(
    st.integers(min_value=-(2**40), max_value=2**40).map(str)
    | TEXT.map(_escaped)
    | st.sampled_from(["true", "null", "OPEN", "$n", "$s", "1.5e300"]),
    lambda children: (
        st.lists(children, max_size=3).map(lambda xs: f"[{', '.join(xs)}]")
        | st.lists(st.tuples(NAMES, children), max_size=3).map(
            lambda pairs: "{" + ", ".join(f"{k}: {v}" for k, v in pairs) + "}"
        )
    ),
    max_leaves=8,
)


@st.composite
def selection_sets(draw, depth: int = 0) -> str:
    parts = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(["field", "field", "spread", "inline", "alias"]))
        if kind == "spread":
            parts.append("..." + draw(st.sampled_from(["F", "G", "Missing"])))
            continue
        if kind == "inline" and depth < 6:
            on = draw(
                st.sampled_from(["", "on Query ", "on SupportTicket ", "on Nope "])
            )
            parts.append(f"... {on}{draw(selection_sets(depth + 1))}")
            continue
        name = draw(NAMES)
        if kind == "alias":
            name = f"{draw(st.sampled_from(['a', 'b', 'x1']))}: {name}"
        if draw(st.booleans()):
            args = draw(
                st.lists(
                    st.tuples(
                        st.sampled_from(["first", "last", "id", "filter", "search"]),
                        GRAPHQL_VALUES,
                    ),
                    max_size=2,
                )
            )
            if args:
                name += "(" + ", ".join(f"{k}: {v}" for k, v in args) + ")"
        if depth < 6 and draw(st.booleans()):
            name += " " + draw(selection_sets(depth + 1))
        parts.append(name)
    return "{ " + " ".join(parts) + " }"


@st.composite
def documents(draw) -> str:
    operation = draw(
        st.sampled_from(
            [
                "",
                "query q",
                "query q($n: Int = 100, $s: String)",
                "mutation m",
                "subscription s",
            ]
        )
    )
    text = f"{operation} {draw(selection_sets())}"
    for name in draw(st.lists(st.sampled_from(["F", "G"]), max_size=2)):
        on = draw(st.sampled_from(["Query", "SupportTicket", "Nope"]))
        text += f" fragment {name} on {on} {draw(selection_sets())}"
    if draw(st.booleans()):
        text += draw(
            st.sampled_from(["[" * 40, "{" * 40, "}", " # {{{", '"', "\x00", "\ud800"])
        )
    return text


REAL_OPERATIONS = [
    (QUERY_SEARCH, ["search"]),
    (QUERY_PAGE, ["n"]),
    (QUERY_FILTER, ["f"]),
    ("query t($id: ID!) { supportTicket(id: $id) { id subject } }", ["id"]),
    (
        "query l($n: Int, $after: String, $sort: SupportTicketSortingInput) "
        "{ supportTickets(first: $n, after: $after, sortBy: $sort) "
        "{ totalCount edges { node { id } } } }",
        ["n", "after", "sort"],
    ),
    (
        "mutation c($input: SupportTicketCreateInput!) "
        "{ supportTicketCreate(input: $input) { errors { code } } }",
        ["input"],
    ),
    (
        "mutation g($number: String!, $email: String!) "
        "{ supportGuestTokenCreate(orderNumber: $number, email: $email) "
        "{ errors { code } } }",
        ["number", "email"],
    ),
]
FILTER_VALUES = st.fixed_dictionaries(
    {},
    optional={
        "search": TEXT,
        "status": st.lists(st.sampled_from(["OPEN", "CLOSED", "open", "X"])),
        "slaDueWithinHours": st.integers(min_value=-(2**33), max_value=2**33),
        "orderNumber": TEXT,
        "customerEmail": TEXT,
        "assignee": TEXT
        | st.sampled_from(["VXNlcjphYmM=", "U3VwcG9ydFRpY2tldDpub3QtYS11dWlk"]),
        "createdAfter": TEXT
        | st.sampled_from(["2024-01-01T00:00:00Z", "9999-12-31T23:59:59-14:00"]),
    },
)
VARIABLE_VALUES = (
    JSON_VALUES
    | FILTER_VALUES
    | st.fixed_dictionaries({"subject": TEXT, "body": TEXT}, optional={"order": TEXT})
    | st.fixed_dictionaries(
        {
            "field": st.sampled_from(["SLA_DUE", "NUMBER", "X"]),
            "direction": st.sampled_from(["ASC", "DESC"]),
        }
    )
    | st.sampled_from(
        [
            "U3VwcG9ydFRpY2tldDpub3QtYS11dWlk",
            "b2Zmc2V0OjE=",
            "b2Zmc2V0Oi0x",
            "b2Zmc2V0Ong=",
        ]
    )
)

GLOBAL_IDS = st.sampled_from(
    [
        "U3VwcG9ydFRpY2tldDpub3QtYS11dWlk",  # SupportTicket:not-a-uuid
        "U3VwcG9ydFRpY2tldDowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA=",
        "VXNlcjphYmM=",  # User:abc
        "T3JkZXI6eA==",  # Order:x
        "not base64!",
    ]
)
WELL_TYPED = {
    "search": PLAIN_TEXT,
    "n": st.integers(min_value=-5, max_value=150),
    "f": FILTER_VALUES,
    "id": GLOBAL_IDS | PLAIN_TEXT,
    "after": st.sampled_from(["b2Zmc2V0OjE=", "b2Zmc2V0Oi0x", "b2Zmc2V0Ong=", "%%%"]),
    "sort": st.fixed_dictionaries(
        {
            "field": st.sampled_from(["SLA_DUE", "NUMBER", "PRIORITY", "CREATED_AT"]),
            "direction": st.sampled_from(["ASC", "DESC"]),
        }
    ),
    "input": st.fixed_dictionaries(
        {"subject": PLAIN_TEXT, "body": PLAIN_TEXT},
        optional={
            "order": GLOBAL_IDS,
            "category": st.sampled_from(["SHIPPING", "OTHER"]),
        },
    ),
    "number": PLAIN_TEXT
    | st.sampled_from(["1042", "3042", "\u0663\u0660\u0664\u0662"]),
    "email": PLAIN_TEXT | st.sampled_from(["guest@example.com", "GUEST@EXAMPLE.COM"]),
}


@st.composite
def bodies(draw) -> bytes:
    shape = draw(
        st.sampled_from(["real", "real", "real", "graphql", "graphql", "json", "bytes"])
    )
    if shape == "real":
        # real operations with arbitrary variable values, so execution is reached
        query, names = draw(st.sampled_from(REAL_OPERATIONS))
        variables = {
            name: draw(WELL_TYPED[name] if draw(st.integers(0, 3)) else VARIABLE_VALUES)
            for name in names
            if draw(st.integers(0, 4))
        }
        return json.dumps({"query": query, "variables": variables}).encode()
    if shape == "bytes":
        return draw(st.binary(max_size=64))
    if shape == "json":
        value = draw(JSON_VALUES)
        return json.dumps(value).encode()
    payload: dict[str, Any] = {"query": draw(documents())}
    if draw(st.booleans()):
        payload["variables"] = draw(
            st.dictionaries(
                st.sampled_from(["n", "s", "id", "f"]), JSON_VALUES, max_size=3
            )
            | JSON_VALUES
        )
    if draw(st.booleans()):
        payload["operationName"] = draw(
            st.sampled_from(["q", "m", "nope", ""]) | JSON_VALUES
        )
    # ensure_ascii keeps lone surrogates as \\u escapes, as a client would send them
    return json.dumps(payload).encode()


HEADER_TEXT = st.text(alphabet=string.printable.strip("\r\n\x0b\x0c"), max_size=30)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=bodies(),
    content_type=st.sampled_from(
        ["application/json"] * 6
        + [
            "application/json; charset=utf-8",
            "text/plain",
            "multipart/form-data; boundary=x",
            "",
        ]
    ),
    content_length=st.sampled_from(
        [None] * 12 + ["abc", "-5", "0", "1e3", "0x10", "999999999999"]
    ),
    caller=st.sampled_from(["anonymous", "anonymous", "customer", "staff", "garbage"]),
    garbage=st.sampled_from(["Bearer", "Bearer ", "Basic xx", "Bearer a.b.c", "\x00"])
    | HEADER_TEXT.map(lambda t: f"Bearer {t}")
    | HEADER_TEXT,
)
def test_arbitrary_requests_never_answer_5xx_or_log_a_traceback(
    caplog,
    customer_user,
    staff_user,
    support_config,
    body,
    content_type,
    content_length,
    caller,
    garbage,
):
    # given
    caplog.clear()
    extra: dict[str, Any] = {}
    if content_length is not None:
        extra["CONTENT_LENGTH"] = content_length
    if caller == "customer":
        extra["HTTP_AUTHORIZATION"] = f"Bearer {create_access_token(customer_user)}"
    elif caller == "staff":
        extra["HTTP_AUTHORIZATION"] = f"Bearer {create_access_token(staff_user)}"
    elif caller == "garbage":
        extra["HTTP_AUTHORIZATION"] = garbage
    # when
    response = Client().post(GRAPHQL_URL, data=body, content_type=content_type, **extra)
    # then
    text = response.content.decode()
    event(f"status {response.status_code}")
    if response.status_code == 400 and response["Content-Type"] == "application/json":
        errors = json.loads(text).get("errors") or [{}]
        event(f"code {errors[0].get('extensions', {}).get('code')}")
    assert response.status_code < 500, text
    assert "Traceback" not in text
    assert "INTERNAL_ERROR" not in text
    assert logged_tracebacks(caplog) == []
