"""Values from manifests, saved plans and clouds as they may appear in markdown, and on a terminal.

A value must never end the block it is shown in: a statement Sid holding a newline, a closing code
fence, a bold "No changes" line and an unterminated `<!--` would otherwise end the diff, forge the
summary and hide the rest of a pull request comment. So every string of the plan document has its
control characters (newlines included) shown as escapes before a renderer sees it (`printable`),
and markdown quotes each value by where it goes: in a code span or code block whose backtick fence
is longer than any run of backticks inside, as HTML text inside HTML, and as escaped text elsewhere.
"""

from __future__ import annotations

import html
import re
from typing import Any

from reconciler.core.printable import visible, visible_document

# Values shown through `values.show` (JSON, ASCII-escaped) keep their strings; their names are shown raw.
_SHOWN = ("identity", "attributes")
_BACKTICKS = re.compile(r"`+")
# What CommonMark and GitHub could read as markup inside a line of text (never at its start):
# escapes, code spans, emphasis, links and images, table cells, strikethrough, closing #s.
_MARKUP = re.compile(r"[\\`*_\[\]|~#]")


def printable(document: dict[str, Any]) -> dict[str, Any]:
    """The plan document with every string a renderer prints raw made `visible` (see the module)."""
    shown = {key: value for key, value in document.items() if key != "steps"}
    return {**visible_document(shown), "steps": [_printable_step(step) for step in document["steps"]]}


def _printable_step(step: dict[str, Any]) -> dict[str, Any]:
    plain = {key: value for key, value in step.items() if key not in (*_SHOWN, "changes")}
    return {
        **visible_document(plain),
        **{key: {visible(str(name)): value for name, value in step[key].items()} for key in _SHOWN},
        "changes": [{**change, "name": visible(change["name"])} for change in step["changes"]],
    }


def longest_backticks(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def code(text: str, *, in_table: bool = False) -> str:
    """An inline code span that `text` cannot end: fenced by more backticks than any run inside."""
    fence = "`" * (longest_backticks(text) + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") or not text.strip() else text
    if in_table:  # GitHub splits a table row at every unescaped pipe, in a code span or not
        padded = padded.replace("|", "\\|")
    return f"{fence}{padded}{fence}"


def fence_for(body: str) -> str:
    """The opening and closing fence of a code block holding `body`: longer than any run inside."""
    return "`" * max(3, longest_backticks(body) + 1)


def literal(value: str) -> str:
    """`value` as literal text in a line of markdown: no emphasis, link, HTML, comment or table cell."""
    escaped = html.escape(value, quote=False)  # <, > and & as entities: no tag, no <!-- comment
    return _MARKUP.sub(lambda found: "\\" + found.group(), escaped)


def in_html(value: str) -> str:
    """`value` as text inside HTML elements (`<summary><code>...</code></summary>`)."""
    return html.escape(value, quote=True)
