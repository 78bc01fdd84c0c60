"""Text from manifests, saved plans and clouds, made safe to print: control characters shown, long values cut.

A manifest value, an unknown key or a cloud's answer can hold escape sequences (a window title,
a screen clear, an OSC 52 clipboard write) that a terminal would act on, piped or not. Every such
character is shown as an escape instead (`\\x1b`, `\\u202e`), the way Python's repr shows it; and
a value echoed into a message is cut, so a 4 MB string costs a line, not a screen.
"""

from __future__ import annotations

from typing import Any

_STRUCTURE = frozenset("\n\t")
CUT_AT = 200


_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape(character: str) -> str:
    if character in _NAMED:
        return _NAMED[character]
    code = ord(character)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def visible(text: str, *, keep: frozenset[str] = frozenset()) -> str:
    """`text` with each character a terminal could act on, or that hides text, shown as its escape.

    `keep`: characters that are the text's own structure (the newlines of a multi-line message).
    """
    # Not printable (str.isprintable): Cc (C0, DEL, C1), Cf (bidirectional overrides, zero-width
    # characters), separators other than the space, private-use and unassigned code points.
    if text.isascii() and text.isprintable():
        return text
    return "".join(c if c in keep or c.isprintable() else _escape(c) for c in text)


def visible_lines(text: str) -> str:
    """`visible`, keeping newlines and tabs: for messages of several lines."""
    return visible(text, keep=_STRUCTURE)


def cut(text: str, limit: int = CUT_AT) -> str:
    """`text`, or its first `limit` characters, an ellipsis and how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def quoted(value: Any, limit: int = CUT_AT) -> str:
    """A value as a message quotes it: repr-like (escapes shown), cut when long; never fails."""
    if isinstance(value, str):
        shown = repr(value[:limit])
        return shown if len(value) <= limit else f"{shown}… ({len(value)} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"an integer of {value.bit_length()} bits"
    try:
        return cut(repr(value), limit)
    except ValueError:
        return f"a {type(value).__name__}"


def visible_document(value: Any) -> Any:
    """A JSON-shaped value with every string in it (keys too) made `visible`, newlines included."""
    if isinstance(value, str):
        return visible(value)
    if isinstance(value, dict):
        return {visible(str(k)): visible_document(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [visible_document(v) for v in value]
    return value


def json_visible(text: str) -> str:
    """JSON text (json.dumps with ensure_ascii=False, which escapes only C0) with every other
    character a terminal would act on (DEL, C1, bidirectional controls...) as a \\u escape: the same JSON."""
    if text.isascii():  # json.dumps escaped C0 already: only DEL is left
        return text.replace("\x7f", "\\u007f")
    return "".join(c if c.isprintable() or c in "\n " else _json_escape(c) for c in text)


def _json_escape(character: str) -> str:
    code = ord(character)
    if code < 0x10000:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
