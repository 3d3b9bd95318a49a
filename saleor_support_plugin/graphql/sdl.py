"""Print the plugin's schema as SDL with descriptions: `python -m saleor_support_plugin.graphql.sdl`.

graphql-core 2's printer drops descriptions; storefront developers read them, so
the committed `schema.graphql` keeps them. A test fails when it drifts from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from graphql.type import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLUnionType,
)

BUILTIN_SCALARS = {"String", "Boolean", "Int", "Float", "ID"}
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schema.graphql"


def _description(text: str | None, indent: str = "") -> list[str]:
    if not text:
        return []
    if "\n" not in text and '"' not in text:
        return [f'{indent}"""{text}"""']
    return [
        f'{indent}"""',
        *(f"{indent}{line}" if line else "" for line in text.split("\n")),
        f'{indent}"""',
    ]


def _default(value: object) -> str:
    if value is None:
        return ""
    return f" = {json.dumps(value)}"


def _args(args: dict) -> str:
    if not args:
        return ""
    lines = []
    for name, arg in args.items():
        lines += _description(arg.description, "    ")
        lines.append(f"    {name}: {arg.type}{_default(arg.default_value)}")
    return "(\n" + "\n".join(lines) + "\n  )"


def _deprecated(reason: str | None) -> str:
    return f" @deprecated(reason: {json.dumps(reason)})" if reason else ""


def print_schema(schema) -> str:
    blocks = []
    roots = [f"  query: {schema.get_query_type().name}"]
    if schema.get_mutation_type():
        roots.append(f"  mutation: {schema.get_mutation_type().name}")
    blocks.append("schema {\n" + "\n".join(roots) + "\n}")
    for name in sorted(schema.get_type_map()):
        graphql_type = schema.get_type_map()[name]
        if name.startswith("__") or name in BUILTIN_SCALARS:
            continue
        lines = _description(graphql_type.description)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            keyword = (
                "interface"
                if isinstance(graphql_type, GraphQLInterfaceType)
                else "type"
            )
            interfaces = getattr(graphql_type, "interfaces", None) or []
            implements = (
                f" implements {' & '.join(i.name for i in interfaces)}"
                if interfaces
                else ""
            )
            lines.append(f"{keyword} {name}{implements} {{")
            for field_name, field in graphql_type.fields.items():
                lines += _description(field.description, "  ")
                lines.append(
                    f"  {field_name}{_args(field.args)}: {field.type}{_deprecated(field.deprecation_reason)}"
                )
            lines.append("}")
        elif isinstance(graphql_type, GraphQLInputObjectType):
            lines.append(f"input {name} {{")
            for field_name, field in graphql_type.fields.items():
                lines += _description(field.description, "  ")
                lines.append(
                    f"  {field_name}: {field.type}{_default(field.default_value)}"
                )
            lines.append("}")
        elif isinstance(graphql_type, GraphQLEnumType):
            lines.append(f"enum {name} {{")
            for value in graphql_type.values:
                lines += _description(value.description, "  ")
                lines.append(f"  {value.name}{_deprecated(value.deprecation_reason)}")
            lines.append("}")
        elif isinstance(graphql_type, GraphQLUnionType):
            lines.append(
                f"union {name} = {' | '.join(t.name for t in graphql_type.types)}"
            )
        elif isinstance(graphql_type, GraphQLScalarType):
            lines.append(f"scalar {name}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def main() -> None:
    import django

    django.setup()
    from .schema import schema

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_PATH
    path.write_text(print_schema(schema))


if __name__ == "__main__":
    main()
