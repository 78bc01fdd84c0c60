"""Strict YAML: the core schema's tags only, no duplicate keys, bounded size, and a line for every field.

PyYAML's safe loader silently keeps the last of two duplicate keys and forgets where values came
from, so documents are composed into nodes and converted here, recording each value's line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.core.errors import Diagnostic
from reconciler.core.printable import quoted
from reconciler.core.userfiles import TooLarge, UnreadableFile, read_regular, read_standard_input

MAX_FILE_BYTES = 4 * 1024 * 1024
# How diagnostics name manifests read from standard input (`-f -`).
STDIN_NAME = "<stdin>"
# An alias bomb expands a few lines into billions of nodes; no real manifest comes near this.
MAX_NODES = 200_000
MAX_DEPTH = 64
# No field of a manifest holds more; a longer integer (3 MB of hex digits) only costs memory and time.
MAX_INTEGER_BITS = 64

JsonPath = tuple[str | int, ...]

_YAML = "tag:yaml.org,2002:"
# YAML 1.2's core schema: every tag a manifest can mean. Any other -- `!!python/...`, `!!set`,
# `!!omap`, `!!binary`, `!!timestamp`, an application's `!Foo` -- is refused on any node, scalar,
# mapping or sequence, even where the value it tags would pass the schema: a tag must never
# change what a value is.
CORE_TAGS = {
    yaml.ScalarNode: frozenset(f"{_YAML}{name}" for name in ("null", "bool", "int", "float", "str")),
    yaml.MappingNode: frozenset({f"{_YAML}map"}),
    yaml.SequenceNode: frozenset({f"{_YAML}seq"}),
}
# Plain scalars PyYAML types by their look beyond the core schema: `2026-01-01` (a timestamp) and
# `=` (a "value", which no safe constructor takes). The core schema reads both as strings.
_NOT_IMPLICIT = frozenset({f"{_YAML}timestamp", f"{_YAML}value"})
_BOOL = f"{_YAML}bool"
# The core schema's booleans (YAML 1.2, 10.3.2); YAML 1.1's yes/no/on/off/y/n are strings there.
_CORE_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")


@dataclass
class Document:
    """One YAML document with the line of every value in it, by JSON path."""

    file: str
    data: Any
    lines: dict[JsonPath, int] = field(default_factory=dict)
    index: int = 0

    def line_of(self, path: JsonPath) -> int | None:
        # Walk up to the nearest located ancestor: a missing field is reported at its parent.
        for cut in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:cut]))
            if line is not None:
                return line
        return None


class _LimitExceeded(Exception):
    pass


class _Converter:
    def __init__(self) -> None:
        self.lines: dict[JsonPath, int] = {}
        self.problems: list[tuple[int, JsonPath, str]] = []
        self.count = 0
        self._scalars = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES or len(path) > MAX_DEPTH:
            raise _LimitExceeded(node.start_mark.line + 1)
        self.lines[path] = node.start_mark.line + 1
        if not self._core_tagged(node, path):
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append((line, path, "only plain keys are allowed (no merge keys or complex keys)"))
                continue
            if not self._core_tagged(key_node, path):
                continue
            key = str(key_node.value)
            if key in result:
                first = self.lines.get((*path, key))
                self.problems.append((line, (*path, key), f"duplicate key {key!r} (first at line {first})"))
                continue
            result[key] = self.convert(value_node, (*path, key))
            self.lines[(*path, key)] = line
        return result

    def _core_tagged(self, node: yaml.Node, path: JsonPath) -> bool:
        if node.tag in CORE_TAGS[type(node)]:
            return True
        self.problems.append((node.start_mark.line + 1, path, f"YAML tag {_as_written(node.tag)} is not allowed: "
                              "manifests use YAML's core schema (null, bool, int, float, str, map, seq)"))
        return False

    def _scalar(self, node: yaml.Node, path: JsonPath) -> Any:
        line = node.start_mark.line + 1
        try:
            value = self._scalars.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as error:
            self.problems.append((line, path, f"unsupported YAML tag {node.tag!r}: {error.problem}"))
            return None
        except (ValueError, KeyError, IndexError, TypeError, OverflowError):
            # `!!int abc`, `!!bool maybe`, `!!float abc`, an integer of more than 4,300 digits.
            self._scalars.recursive_objects.clear()
            self.problems.append((line, path, _not_valid(node)))
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() >= MAX_INTEGER_BITS:
            self.problems.append((line, path, f"an integer of {value.bit_length()} bits; {_INTEGERS_LIMITED}"))
            return None
        return value


_INTEGERS_LIMITED = f"integers in a manifest are limited to {MAX_INTEGER_BITS}-bit signed values"


def _not_valid(node: yaml.Node) -> str:
    text = str(node.value)
    if node.tag == f"{_YAML}int" and text.lstrip("+-").replace("_", "").isdigit():
        return f"an integer of {len(text)} digits; {_INTEGERS_LIMITED}"  # past Python's 4,300-digit limit
    return f"{quoted(text)} is not a valid {_as_written(node.tag)}"


def _as_written(tag: str) -> str:
    return f"!!{tag.removeprefix(_YAML)}" if tag.startswith(_YAML) else (tag if tag.startswith("!") else f"!<{tag}>")


@dataclass(frozen=True)
class Source:
    """A manifest file as read: its bytes (None when they could not be read), documents and problems."""

    content: bytes | None
    documents: list[Document]
    problems: list[Diagnostic]


def read_source(path: Path, accept: Callable[[Path, bytes], None] | None = None) -> Source:
    """Every document in `path`, or the diagnostics that explain why it cannot be read.

    The bytes are read once, shown to `accept` (which may raise to refuse them) before they are
    parsed, and returned, so that what is digested is what was parsed.
    """
    file = str(path)
    try:
        content = read_regular(path, MAX_FILE_BYTES, what="manifest")
    except TooLarge as refusal:
        return Source(None, [], [Diagnostic(file, None, "", str(refusal), "E-SIZE")])
    except UnreadableFile as refusal:
        return Source(None, [], [Diagnostic(file, None, "", str(refusal), "E-READ")])
    if accept is not None:
        accept(path, content)
    return _decoded(file, content)


def read_standard_input_source() -> Source:
    """The documents of standard input (`-f -`), named STDIN_NAME in diagnostics."""
    try:
        content = read_standard_input(MAX_FILE_BYTES, what="manifest")
    except TooLarge as refusal:
        return Source(None, [], [Diagnostic(STDIN_NAME, None, "", str(refusal), "E-SIZE")])
    except UnreadableFile as refusal:
        return Source(None, [], [Diagnostic(STDIN_NAME, None, "", str(refusal), "E-READ")])
    return _decoded(STDIN_NAME, content)


def _decoded(file: str, content: bytes) -> Source:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as error:
        return Source(content, [], [Diagnostic(file, None, "", f"not UTF-8 (byte {error.start}): save the manifest "
                                               "as UTF-8", "E-ENCODING")])
    return Source(content, *_parse(file, text))


def _parse(file: str, text: str) -> tuple[list[Document], list[Diagnostic]]:
    documents: list[Document] = []
    diagnostics: list[Diagnostic] = []
    try:
        for index, node in enumerate(_compose_all(text)):
            if node is None:
                continue
            converter = _Converter()
            try:
                data = converter.convert(node, ())
            except _LimitExceeded as limit:
                diagnostics.append(Diagnostic(file, int(str(limit)), "", "document too large or too deeply "
                                              "nested (YAML aliases expanding?)", "E-SIZE"))
                continue
            diagnostics.extend(Diagnostic(file, line, _dotted(p), msg, "E-YAML") for line, p, msg in
                               converter.problems)
            if data is None and not converter.problems:
                continue  # `---` with nothing after it, or `~`: a document that declares nothing, as kubectl reads it
            documents.append(Document(file, data, converter.lines, index))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        diagnostics.append(Diagnostic(file, line, "", f"invalid YAML: {problem}", "E-YAML"))
    except RecursionError:
        # PyYAML composes nodes recursively: `[[[[...` thousands deep exhausts the stack first.
        diagnostics.append(Diagnostic(file, _too_deep_line(text), "", f"nested more than {MAX_DEPTH} levels deep",
                                      "E-SIZE"))
    return documents, diagnostics


def _too_deep_line(text: str) -> int | None:
    """The line where nesting first passes MAX_DEPTH (the event parser is iterative: no recursion)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > MAX_DEPTH and event.start_mark is not None:
                    return int(event.start_mark.line) + 1
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
    except yaml.YAMLError:
        pass
    return None


def _core_resolvers(loader: type[Any]) -> type[yaml.SafeLoader]:
    """`loader`, typing plain scalars as the core schema does (see _NOT_IMPLICIT): of PyYAML's YAML 1.1
    booleans only `true` and `false` (in their three spellings) stay booleans; `yes`, `no`, `on`, `off`
    are strings, which the schema then refuses where a boolean is expected."""
    resolvers = {first: [(tag, pattern) for tag, pattern in found if tag not in _NOT_IMPLICIT | {_BOOL}]
                 for first, found in loader.yaml_implicit_resolvers.items()}
    for first in "tTfF":
        resolvers.setdefault(first, []).insert(0, (_BOOL, _CORE_BOOL))
    return type(f"Core{loader.__name__}", (loader,), {"yaml_implicit_resolvers": resolvers})


_SAFE_LOADER = _core_resolvers(yaml.SafeLoader)
_FAST_LOADER = _core_resolvers(yaml.CSafeLoader) if hasattr(yaml, "CSafeLoader") else None


def _loader_for(text: str) -> type[yaml.SafeLoader]:
    """libyaml's loader when PyYAML has it (a 1,000-object manifest composes ~10x faster), unless the
    text is invalid (the pure-Python loader words the error) or nested past MAX_DEPTH (libyaml's
    composer recurses in C, where Python's recursion limit does not guard the stack)."""
    fast = _FAST_LOADER
    if fast is None:
        return _SAFE_LOADER
    depth = 0
    try:
        for event in yaml.parse(text, Loader=fast):  # iterative, in C
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    return _SAFE_LOADER
            elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return _SAFE_LOADER
    return fast


def _compose_all(text: str) -> Iterator[yaml.Node | None]:
    loader = _loader_for(text)(text)
    try:
        while loader.check_node():
            yield loader.get_node()
    finally:
        loader.dispose()


def _dotted(path: JsonPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


dotted = _dotted
