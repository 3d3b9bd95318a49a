import re

from graphql import build_ast_schema, parse

from saleor_support_plugin.graphql.schema import schema
from saleor_support_plugin.graphql.sdl import SCHEMA_PATH, print_schema


def test_committed_sdl_matches_the_code():
    assert SCHEMA_PATH.read_text() == print_schema(schema), (
        "Run ./dev docs to regenerate schema.graphql."
    )


def test_committed_sdl_is_valid_graphql_and_keeps_descriptions():
    sdl = SCHEMA_PATH.read_text()
    # graphql-core 2 predates descriptions in SDL: parse it without them.
    rebuilt = build_ast_schema(parse(re.sub(r'"""(.|\n)*?"""', "", sdl)))
    assert set(rebuilt.get_query_type().fields) == set(schema.get_query_type().fields)
    assert '"""Open a ticket' in sdl


def test_every_top_level_field_is_prefixed():
    fields = [*schema.get_query_type().fields, *schema.get_mutation_type().fields]
    assert all(name.startswith("support") for name in fields)
