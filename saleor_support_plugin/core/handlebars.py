"""A small Handlebars interpreter for the templates merchants and staff write.

Safe by construction: the source is tokenized and parsed into a tree of plain
nodes, and rendering walks that tree, reading only dict keys and list items of
the context. Nothing is compiled, evaluated or looked up as an attribute, so no
template text can become code or reach the internals of a Python object.

The grammar is the part of Handlebars email templates use:

- text, `{{path}}` (HTML-escaped as Handlebars does), `{{{path}}}` (raw, but only
  for `SafeHtml` values; anything else is escaped all the same);
- comments `{{! … }}` and `{{!-- … --}}`; whitespace control `{{~ … ~}}`;
- blocks `{{#if path}}`, `{{#unless path}}`, `{{#each path}}` (with `this`,
  `@index`, `@first`, `@last`, `@key`) and `{{#with path}}`, each with an
  optional `{{else}}`.

A path is `this` or dot-separated names (`order.number`, `this.product_name`);
a name starts with a letter and has letters, digits and `_`. Partials, helpers,
arguments, subexpressions, `[…]` segments, `../` and anything else is a
`TemplateSyntaxError` that says where.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

MAX_TEMPLATE_LENGTH = 100_000
MAX_DEPTH = 20
BLOCKS = frozenset({"if", "unless", "each", "with"})
DATA_VARIABLES = ("index", "first", "last", "key")

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_PATH = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
_CLOSE = re.compile(r"(~?)\}\}")
_CLOSE_RAW = re.compile(r"\}(~?)\}\}")
_CLOSE_LONG_COMMENT = re.compile(r"--(~?)\}\}")
_ESCAPES = str.maketrans(
    {
        "&": "&amp;",
        "<": "&lt;",
        ">": "&gt;",
        '"': "&quot;",
        "'": "&#x27;",
        "`": "&#x60;",
        "=": "&#x3D;",
    }
)


class TemplateSyntaxError(ValueError):
    """The template is not in the supported grammar; the message says what and where."""

    def __init__(self, message: str, *, line: int = 0, column: int = 0) -> None:
        self.message, self.line, self.column = message, line, column
        super().__init__(
            f"{message} (line {line}, column {column})" if line else message
        )


class SafeHtml(str):
    """HTML the plugin itself rendered or sanitized: the only value `{{{ }}}` emits as is."""

    __slots__ = ()


def escape(text: str) -> str:
    """Escape like Handlebars: & < > " ' ` =."""
    return text.translate(_ESCAPES)


@dataclass(frozen=True, slots=True)
class _Path:
    text: str
    segments: tuple[str, ...]
    data: str = ""  # "index" for @index


@dataclass(frozen=True, slots=True)
class _Output:
    path: _Path
    raw: bool


@dataclass(frozen=True, slots=True)
class _Block:
    name: str
    path: _Path
    body: tuple[_Node, ...]
    inverse: tuple[_Node, ...]


type _Node = str | _Output | _Block


def _to_text(value: Any) -> str:
    """Plain data as text; any other object renders as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    # The base types' own methods: a subclass cannot run code through __str__.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value)
    if isinstance(value, Decimal):
        return Decimal.__str__(value)
    return ""


def _truthy(value: Any) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > 0
    if isinstance(value, (int, float, Decimal)):
        return value != 0
    return False


def _resolve(path: _Path, this: Any, data: Mapping[str, Any] | None) -> Any:
    if path.data:
        return data.get(path.data) if data is not None else None
    value = this
    for segment in path.segments:
        if not isinstance(value, dict):
            return None
        value = dict.get(value, segment)
    return value


class Template:
    """A parsed template; `render` may be called any number of times, from any thread."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: tuple[_Node, ...]) -> None:
        self._nodes = nodes

    def render(self, context: Mapping[str, Any], *, escape: bool = True) -> str:
        """Fill in the template; `escape=False` is for plain text the caller sanitizes."""
        out: list[str] = []
        _render(self._nodes, dict(context), None, out, escape)
        return "".join(out)


def _render(
    nodes: tuple[_Node, ...],
    this: Any,
    data: Mapping[str, Any] | None,
    out: list[str],
    escape_values: bool,
) -> None:
    for node in nodes:
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, _Output):
            value = _resolve(node.path, this, data)
            if node.raw and isinstance(value, SafeHtml):
                out.append(str.__str__(value))
            else:
                text = _to_text(value)
                out.append(text.translate(_ESCAPES) if escape_values else text)
        else:
            value = _resolve(node.path, this, data)
            if node.name == "if":
                branch = node.body if _truthy(value) else node.inverse
                _render(branch, this, data, out, escape_values)
            elif node.name == "unless":
                branch = node.inverse if _truthy(value) else node.body
                _render(branch, this, data, out, escape_values)
            elif node.name == "with":
                if _truthy(value):
                    _render(node.body, value, data, out, escape_values)
                else:
                    _render(node.inverse, this, data, out, escape_values)
            else:
                _render_each(node, value, this, data, out, escape_values)


def _render_each(
    node: _Block,
    value: Any,
    this: Any,
    data: Mapping[str, Any] | None,
    out: list[str],
    escape_values: bool,
) -> None:
    if isinstance(value, dict):
        items: list[tuple[Any, Any]] = list(dict.items(value))
    elif isinstance(value, (list, tuple)):
        items = [(None, item) for item in value]
    else:
        items = []
    if not items:
        _render(node.inverse, this, data, out, escape_values)
        return
    last = len(items) - 1
    for index, (key, item) in enumerate(items):
        frame = {"index": index, "first": index == 0, "last": index == last}
        if key is not None:
            frame["key"] = key
        _render(node.body, item, frame, out, escape_values)


# --- parsing


def parse(
    source: str,
    *,
    allowed_roots: Iterable[str] | None = None,
    allow_raw: bool | Iterable[str] = False,
    blocks: Iterable[str] = BLOCKS,
    flat: bool = False,
) -> Template:
    """Parse and validate a template (cached on its source and the rules).

    allowed_roots: the top-level variables the template may read (paths inside
    `{{#each}}` / `{{#with}}` read the current item and are not checked).
    allow_raw: whether `{{{ }}}` may be used at all, or the paths it may be used on.
    blocks: the block names allowed. flat: variables are single names (no dots).
    """
    roots = None if allowed_roots is None else frozenset(allowed_roots)
    raw: bool | frozenset[str] = (
        allow_raw if isinstance(allow_raw, bool) else frozenset(allow_raw)
    )
    return _parse(source, roots, raw, frozenset(blocks) & BLOCKS, flat)


def render(source: str, context: Mapping[str, Any], *, escape: bool = True) -> str:
    """Parse (once) and render; triple-stash emits only `SafeHtml` values unescaped."""
    return parse(source, allow_raw=True).render(context, escape=escape)


@dataclass(frozen=True)
class _Rules:
    roots: frozenset[str] | None
    raw: bool | frozenset[str]
    blocks: frozenset[str]
    flat: bool


@dataclass
class _Tag:
    content: str
    start: int
    strip_left: bool
    strip_right: bool
    raw: bool = False
    comment: bool = False


@dataclass
class _Open:
    name: str
    path: _Path
    start: int
    body: list[_Node]
    inverse: list[_Node] | None = None


@functools.lru_cache(maxsize=256)
def _parse(
    source: str,
    roots: frozenset[str] | None,
    raw: bool | frozenset[str],
    blocks: frozenset[str],
    flat: bool,
) -> Template:
    if len(source) > MAX_TEMPLATE_LENGTH:
        raise TemplateSyntaxError(
            f"The template is longer than {MAX_TEMPLATE_LENGTH:,} characters."
        )
    return _Parser(source, _Rules(roots, raw, blocks, flat)).parse()


cache_info = _parse.cache_info


_LINE_END = re.compile(r"\n[ \t]*\Z")
_NEWLINE_AND_INDENT_END = re.compile(r"\r?\n[ \t]*\Z")
_BLANK = re.compile(r"[ \t]*")
_BLANK_LINE_START = re.compile(r"[ \t]*\r?\n")
_BLANK_LAST_LINE = re.compile(r"[ \t]*\n?")


def _standalone_kind(piece: str | _Tag) -> str:
    if not isinstance(piece, _Tag) or piece.raw:
        return ""
    if piece.comment:
        return "!"
    if piece.content[:1] in ("#", "/"):
        return piece.content[0]
    return "else" if piece.content.split()[:1] == ["else"] else ""


def _strip_standalone_lines(pieces: list[str | _Tag]) -> None:
    """Drop the line of block tags that stand alone on it, as pybars (Saleor's engine) does.

    A line holding only block, else and comment tags (and spaces) leaves no
    blank line behind; on the first line only opening tags count, on the last
    only closing ones.
    """
    original = list(pieces)
    index = 1
    while index < len(pieces):
        if not _standalone_kind(pieces[index]):
            index += 2
            continue
        end = index
        while (
            end + 2 < len(pieces)
            and _standalone_kind(pieces[end + 2])
            and _BLANK.fullmatch(str(pieces[end + 1]))
        ):
            end += 2
        kinds = {_standalone_kind(pieces[i]) for i in range(index, end + 1, 2)}
        before, after = str(pieces[index - 1]), str(pieces[end + 1])
        last_line = _NEWLINE_AND_INDENT_END.search(before)
        next_line = _BLANK_LINE_START.match(after)
        if (
            last_line
            and end + 2 == len(pieces)
            and kinds <= {"/", "!"}
            and _BLANK_LAST_LINE.fullmatch(after)
        ):
            pieces[index - 1] = before[: last_line.start()]
            pieces[end + 1] = after.lstrip(" \t")
        elif next_line and (
            _LINE_END.search(str(original[index - 1]))
            or (index == 1 and _BLANK.fullmatch(before) and kinds <= {"#", "!"})
        ):
            pieces[index - 1] = before.rstrip(" \t")
            pieces[end + 1] = after[next_line.end() :]
        else:
            index = end + 2
            continue
        for between in range(index + 1, end, 2):
            pieces[between] = ""
        index = end + 2


def _shorten(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Parser:
    def __init__(self, source: str, rules: _Rules) -> None:
        self.source = source
        self.rules = rules
        self.root: list[_Node] = []
        self.stack: list[_Open] = []

    def error(self, message: str, position: int) -> TemplateSyntaxError:
        line = self.source.count("\n", 0, position) + 1
        column = position - (self.source.rfind("\n", 0, position) + 1) + 1
        return TemplateSyntaxError(message, line=line, column=column)

    def parse(self) -> Template:
        pieces = self.tokenize()
        _strip_standalone_lines(pieces)
        for index, piece in enumerate(pieces):
            if isinstance(piece, str):
                before = pieces[index - 1] if index else None
                after = pieces[index + 1] if index + 1 < len(pieces) else None
                if isinstance(before, _Tag) and before.strip_right:
                    piece = piece.lstrip()
                if isinstance(after, _Tag) and after.strip_left:
                    piece = piece.rstrip()
                if piece:
                    self.target().append(piece)
            elif not piece.comment:
                self.tag(piece)
        if self.stack:
            block = self.stack[-1]
            raise self.error(
                f"{{{{#{block.name}}}}} is never closed with {{{{/{block.name}}}}}.",
                block.start,
            )
        return Template(tuple(self.root))

    def target(self) -> list[_Node]:
        """Where the next node goes: the open block's body or else branch, or the top."""
        if not self.stack:
            return self.root
        top = self.stack[-1]
        return top.inverse if top.inverse is not None else top.body

    def tokenize(self) -> list[str | _Tag]:
        """Split into text and tags, alternating: text, tag, text, …, text."""
        source, position = self.source, 0
        pieces: list[str | _Tag] = []
        while True:
            start = source.find("{{", position)
            text = source[position : start if start >= 0 else len(source)]
            stray = text.find("}}")
            if stray >= 0:
                raise self.error("'}}' closes no tag.", position + stray)
            pieces.append(text)
            if start < 0:
                return pieces
            tag, position = self.read_tag(start)
            pieces.append(tag)

    def read_tag(self, start: int) -> tuple[_Tag, int]:
        source = self.source
        inner = start + 2
        strip_left = source.startswith("~", inner)
        inner += strip_left
        if source.startswith("!--", inner):
            match = _CLOSE_LONG_COMMENT.search(source, inner + 3)
            if match is None:
                raise self.error(
                    "A '{{!--' comment is never closed with '--}}'.", start
                )
            tag = _Tag("", start, strip_left, bool(match.group(1)), comment=True)
            return tag, match.end()
        raw = source.startswith("{", inner)
        inner += raw
        match = (_CLOSE_RAW if raw else _CLOSE).search(source, inner)
        closing = "}}}" if raw else "}}"
        if match is None:
            raise self.error(f"A tag is never closed with '{closing}'.", start)
        content = source[inner : match.start()]
        if "{{" in content:
            raise self.error(
                f"A tag is not closed with '{closing}' before the next '{{{{'.", start
            )
        comment = content.startswith("!")
        if raw and comment:
            raise self.error("Write comments as {{! … }}.", start)
        tag = _Tag(
            content.strip(), start, strip_left, bool(match.group(1)), raw, comment
        )
        return tag, match.end()

    def tag(self, tag: _Tag) -> None:
        content, start, stack = tag.content, tag.start, self.stack
        shown = _shorten(content) if len(content) > 40 else content
        if not content:
            raise self.error("An empty tag {{}} has nothing to show.", start)
        first = content[0]
        if tag.raw and first in "#/^>&*":
            raise self.error(f"'{{{{{{{shown}}}}}}}' is not a variable.", start)
        if first == "#":
            self.open_block(content[1:].strip(), start)
        elif first == "/":
            name = content[1:].strip()
            if not stack:
                raise self.error(
                    f"{{{{/{_shorten(name)}}}}} closes no open block.", start
                )
            if stack[-1].name != name:
                raise self.error(
                    f"{{{{/{_shorten(name)}}}}} does not close the open "
                    f"{{{{#{stack[-1].name}}}}}.",
                    start,
                )
            block = stack.pop()
            self.target().append(
                _Block(
                    block.name,
                    block.path,
                    tuple(block.body),
                    tuple(block.inverse or ()),
                )
            )
        elif content.split()[0] == "else" and not tag.raw:
            if content != "else":
                raise self.error(
                    f"'{{{{{shown}}}}}' is not supported; nest an {{{{#if}}}} inside {{{{else}}}}.",
                    start,
                )
            if not stack:
                raise self.error("{{else}} is outside any block.", start)
            if stack[-1].inverse is not None:
                raise self.error(
                    f"{{{{#{stack[-1].name}}}}} already has an {{{{else}}}}.", start
                )
            stack[-1].inverse = []
        elif first == ">":
            raise self.error(
                f"Partials such as {{{{{shown}}}}} are not supported.", start
            )
        elif first == "^":
            raise self.error(
                f"'{{{{{shown}}}}}' is not supported; use {{{{#unless …}}}}.", start
            )
        elif first in "&*":
            raise self.error(f"'{{{{{shown}}}}}' is not supported.", start)
        else:
            if _PATH.fullmatch(content) is None and any(
                character in content for character in "[]()"
            ):
                raise self.bad_path(content, start)
            if len(content.split()) > 1:
                raise self.error(
                    f"'{{{{{shown}}}}}': helpers and arguments are not supported; "
                    "write one variable, such as {{order.number}}.",
                    start,
                )
            path = self.path(content, start, stack)
            if tag.raw:
                self.check_raw(path, start, stack)
            self.target().append(_Output(path, tag.raw))

    def open_block(self, rest: str, start: int) -> None:
        stack = self.stack
        parts = rest.split()
        name = parts[0] if parts else ""
        allowed = ", ".join(f"#{block}" for block in sorted(self.rules.blocks))
        if name not in self.rules.blocks:
            raise self.error(
                f"{{{{#{_shorten(name)}}}}} is not a block this template can use "
                f"(use {allowed}).",
                start,
            )
        if len(parts) == 1:
            raise self.error(
                f"{{{{#{name}}}}} needs a variable, such as {{{{#{name} order.number}}}}.",
                start,
            )
        if len(parts) > 2:
            raise self.error(
                f"{{{{#{_shorten(rest)}}}}}: a block takes exactly one variable.", start
            )
        if len(stack) >= MAX_DEPTH:
            raise self.error(f"Blocks are nested deeper than {MAX_DEPTH}.", start)
        path = self.path(parts[1], start, stack)
        stack.append(_Open(name, path, start, []))

    def _scope(self, stack: list[_Open]) -> tuple[bool, bool]:
        """Tell whether a path here reads the top-level context, and whether @index exists."""
        at_root, in_each = True, False
        for block in stack:
            if block.inverse is None and block.name in ("each", "with"):
                at_root = False
                in_each = in_each or block.name == "each"
        return at_root, in_each

    def path(self, text: str, start: int, stack: list[_Open]) -> _Path:
        shown = _shorten(text) if len(text) > 40 else text
        at_root, in_each = self._scope(stack)
        if text.startswith("@"):
            name = text[1:]
            if name not in DATA_VARIABLES:
                raise self.error(
                    f"{{{{{shown}}}}} is not a known variable "
                    "(use @index, @first, @last or @key inside {{#each}}).",
                    start,
                )
            if not in_each:
                raise self.error(
                    f"{{{{{shown}}}}} is only defined inside {{{{#each}}}}.", start
                )
            return _Path(text, (), name)
        if not _PATH.fullmatch(text):
            raise self.bad_path(text, start)
        segments = text.split(".")
        explicit_this = segments[0] == "this"
        if explicit_this:
            segments = segments[1:]
        if self.rules.flat and (explicit_this or len(segments) > 1):
            raise self.error(
                f"{{{{{shown}}}}}: write the variable name alone, without 'this' or '.'.",
                start,
            )
        roots = self.rules.roots
        if roots is not None and at_root:
            if not segments:
                raise self.error(
                    f"{{{{{shown}}}}} is only defined inside {{{{#each}}}} or {{{{#with}}}}.",
                    start,
                )
            if segments[0] not in roots:
                raise self.error(
                    f"{{{{{shown}}}}} is not a variable this template can use "
                    f"(use {', '.join(sorted(roots))}).",
                    start,
                )
        return _Path(text, tuple(segments))

    def bad_path(self, text: str, start: int) -> TemplateSyntaxError:
        """Say what is wrong with a path that is not dot-separated names."""
        shown = _shorten(text)
        for characters, what in (
            ("()", "subexpressions"),
            ("[]", "[…] segments"),
            ("/", "'/' and '../' paths"),
            ("\"'", "literals"),
            ("=", "hash arguments"),
        ):
            if any(character in text for character in characters):
                return self.error(
                    f"'{{{{{shown}}}}}': {what} are not supported.", start
                )
        segment = next(
            (part for part in text.split(".") if not _NAME.fullmatch(part)), text
        )
        return self.error(
            f"{{{{{shown}}}}}: '{_shorten(segment)}' is not a variable name "
            "(a letter, then letters, digits or _).",
            start,
        )

    def check_raw(self, path: _Path, start: int, stack: list[_Open]) -> None:
        raw = self.rules.raw
        if raw is True:
            return
        at_root, _ = self._scope(stack)
        if raw and at_root and not path.data and ".".join(path.segments) in raw:
            return
        allowed = (
            f" (only {', '.join('{{{' + name + '}}}' for name in sorted(raw))})"
            if raw
            else ""
        )
        raise self.error(
            f"'{{{{{{{_shorten(path.text)}}}}}}}': raw output is not allowed here{allowed}; "
            f"write {{{{{_shorten(path.text)}}}}}.",
            start,
        )
