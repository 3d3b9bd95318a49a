"""The standard introspection queries of GraphiQL, graphql-codegen and graphql-core pass the limits.

Inside `__schema`/`__type`, `ofType` (one wrapper unwrapped, one object for one)
does not count towards the depth of 8; every level counts towards 20, and real
or fan-out fields keep the usual limits.
"""

from __future__ import annotations

import json

from graphql.utils.introspection_query import introspection_query

from .fixtures.graphql import get_graphql_content

# graphql-js 16.15.0 `getIntrospectionQuery()` with its default options, blank
# lines dropped: what GraphiQL (@graphiql/react 0.39, default props) and
# graphql-codegen (through @graphql-tools/url-loader) send.
GRAPHQL_JS_INTROSPECTION_QUERY = """
query IntrospectionQuery {
  __schema {
    queryType { name kind }
    mutationType { name kind }
    subscriptionType { name kind }
    types {
      ...FullType
    }
    directives {
      name
      description
      locations
      args {
        ...InputValue
      }
    }
  }
}
fragment FullType on __Type {
  kind
  name
  description
  fields(includeDeprecated: true) {
    name
    description
    args {
      ...InputValue
    }
    type {
      ...TypeRef
    }
    isDeprecated
    deprecationReason
  }
  inputFields {
    ...InputValue
  }
  interfaces {
    ...TypeRef
  }
  enumValues(includeDeprecated: true) {
    name
    description
    isDeprecated
    deprecationReason
  }
  possibleTypes {
    ...TypeRef
  }
}
fragment InputValue on __InputValue {
  name
  description
  type { ...TypeRef }
  defaultValue
}
fragment TypeRef on __Type {
  kind
  name
  ofType {
    name
    kind
    ofType {
      name
      kind
      ofType {
        name
        kind
        ofType {
          name
          kind
          ofType {
            name
            kind
            ofType {
              name
              kind
              ofType {
                name
                kind
                ofType {
                  name
                  kind
                  ofType {
                    name
                    kind
                  }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""

# With its `inputValueDeprecation` and `schemaDescription` props set, GraphiQL
# sends `getIntrospectionQuery({inputValueDeprecation: true, schemaDescription:
# true})`, which differs from the default in exactly these places.
GRAPHIQL_DIFFERENCES = [
    ("  __schema {\n", "  __schema {\n    description\n"),
    ("  args {\n", "  args(includeDeprecated: true) {\n"),
    ("  inputFields {\n", "  inputFields(includeDeprecated: true) {\n"),
    ("  defaultValue\n", "  defaultValue\n  isDeprecated\n  deprecationReason\n"),
]


def graphiql_introspection_query() -> str:
    query = GRAPHQL_JS_INTROSPECTION_QUERY
    for old, new in GRAPHIQL_DIFFERENCES:
        assert old in query
        query = query.replace(old, new)
    return query


def error_codes(response) -> list[str]:
    return [e["extensions"]["code"] for e in json.loads(response.content)["errors"]]


def of_types(levels: int, inner: str = "name") -> str:
    """`ofType { ofType { ... inner } }`, `levels` deep."""
    return "ofType { " * levels + inner + " }" * levels


def test_graphql_core_introspection_query_answers_the_schema(api_client, db):
    # when
    response = api_client.post_graphql(introspection_query)

    # then
    schema = get_graphql_content(response)["data"]["__schema"]
    assert schema["queryType"]["name"] == "Query"
    assert "SupportTicket" in {t["name"] for t in schema["types"]}


def test_graphql_js_introspection_query_answers_the_schema(api_client, db):
    # when
    response = api_client.post_graphql(GRAPHQL_JS_INTROSPECTION_QUERY)

    # then
    schema = get_graphql_content(response)["data"]["__schema"]
    assert schema["mutationType"] == {"name": "Mutation", "kind": "OBJECT"}
    assert "SupportTicket" in {t["name"] for t in schema["types"]}


def test_graphiql_introspection_query_is_left_to_validation(api_client, db):
    # given: fields graphql-core 2 does not have (`__Schema.description`,
    # deprecated input values)
    query = graphiql_introspection_query()

    # when
    response = api_client.post_graphql(query)

    # then: validation answers, not the depth limit
    assert response.status_code == 400
    # __Schema.description, 3 x includeDeprecated, 2 x __InputValue fields
    assert error_codes(response) == ["GRAPHQL_ERROR"] * 6


def test_of_type_nested_beyond_the_budget_is_refused(api_client, db):
    # given: `__type` + 18 ofType + `name` is 20 levels; one more ofType is 21
    within = '{ __type(name: "SupportTicket") { ' + of_types(18) + " } }"
    beyond = '{ __type(name: "SupportTicket") { ' + of_types(19) + " } }"

    # when
    accepted = api_client.post_graphql(within)
    refused = api_client.post_graphql(beyond)

    # then
    assert get_graphql_content(accepted)["data"]["__type"]["ofType"] is None
    assert refused.status_code == 400
    assert error_codes(refused) == ["QUERY_TOO_DEEP"]


def test_type_depth_beyond_the_budget_is_refused_in_the_standard_query(api_client, db):
    # given: getIntrospectionQuery({typeDepth}) nests TypeRef's ofType deeper;
    # `__schema types fields args type` + 14 ofType + `name` is 20 levels
    standard = GRAPHQL_JS_INTROSPECTION_QUERY
    type_ref = standard[standard.index("fragment TypeRef") :]
    deeper = {
        levels: standard.replace(
            type_ref,
            "fragment TypeRef on __Type { kind name " + of_types(levels) + " }",
        )
        for levels in (14, 15)
    }

    # when
    accepted = api_client.post_graphql(deeper[14])
    refused = api_client.post_graphql(deeper[15])

    # then
    assert get_graphql_content(accepted)["data"]["__schema"]["types"]
    assert error_codes(refused) == ["QUERY_TOO_DEEP"]


def test_real_fields_nested_9_deep_inside_or_beside_introspection_are_refused(
    api_client, db
):
    # given: each has a path of 9 levels that counts
    six_levels = "a { b { c { d { e { f } } } } }"
    queries = [
        # beside introspection
        "{ __schema { queryType { name } } "
        "supportTickets(first: 1) { edges { node { " + six_levels + " } } } }",
        # inside: fields that are not introspection fields count every level
        "{ __schema { types { fields { " + six_levels + " } } } }",
        # after free ofType levels, real fields count again
        '{ __type(name: "X") { '
        + of_types(7, "a { b { c { d { e { f { g { h } } } } } } }")
        + " } }",
        # introspection fields that fan out count like real ones
        "{ __schema { types { fields { type { fields { type { fields { "
        "type { name } } } } } } } } }",
        # `ofType` is free only under `__schema`/`__type`
        "{ supportTickets(first: 1) { edges { node { " + of_types(5, "id") + " } } } }",
    ]

    # when
    responses = [api_client.post_graphql(query) for query in queries]

    # then
    assert [r.status_code for r in responses] == [400] * len(queries)
    assert [error_codes(r) for r in responses] == [["QUERY_TOO_DEEP"]] * len(queries)


def test_aliased_introspection_is_refused_by_the_field_and_token_caps(api_client, db):
    # given
    root_aliases = (
        "{ "
        + " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(21))
        + " }"
    )
    thousand = (
        "{ "
        + " ".join(f"s{i}: __schema {{ types {{ name }} }}" for i in range(1000))
        + " }"
    )
    # four full copies of the standard FullType selection: under the tokens
    # cap, over 500 fields once fragments are expanded
    standard = GRAPHQL_JS_INTROSPECTION_QUERY
    copies = " ".join(f"t{i}: types {{ ...FullType }}" for i in range(4))
    fields_through_fragments = standard.replace(
        "types {\n      ...FullType\n    }", copies
    )
    assert fields_through_fragments != standard
    # ofType doubled at each of 12 levels: 14 deep, 2**13 fields
    doubling = '{ __type(name: "SupportTicket") { ...T0 } } ' + " ".join(
        f"fragment T{i} on __Type {{ a: ofType {{ ...T{i + 1} }} "
        f"b: ofType {{ ...T{i + 1} }} }}"
        for i in range(12)
    )
    doubling += " fragment T12 on __Type { name }"

    # when
    responses = [
        api_client.post_graphql(query)
        for query in (root_aliases, thousand, fields_through_fragments, doubling)
    ]

    # then
    assert [error_codes(r) for r in responses] == [
        ["TOO_MANY_FIELDS"],
        ["TOO_MANY_TOKENS"],
        ["TOO_MANY_FIELDS"],
        ["TOO_MANY_FIELDS"],
    ]
