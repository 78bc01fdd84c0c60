"""A plan's markdown cut into numbered pull request comments, each under GitHub's 65,536 characters.

The first comment holds the summary, a blocked plan's reason and every forbidden and irreversible
step; when they do not fit one by one, they are grouped by reason (every address still named) and
the notices move below them, ahead of the tables.
The region tables follow, cut only between rows and between change blocks; a table cut in two
starts again with its heading and header row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.core.errors import CmkError
from reconciler.render.markdown import (
    Piece,
    body_pieces,
    head_lines,
    heading,
    notice_lines,
    render_markdown,
    table_start,
)

COMMENT_LIMIT = 65_536
# Below the limit by enough for the marker line a workflow writes above each comment.
DEFAULT_BUDGET = 65_000
# Room kept in every comment for its "part i of n" footer.
FOOTER_ROOM = 120
CUT = "\n\n_(cut here to fit one comment: the uploaded plan holds all of it)_\n"


def split_markdown(document: dict[str, Any], budget: int = DEFAULT_BUDGET) -> list[str]:
    """The comments, in order; one comment (the whole markdown) when it fits."""
    whole = render_markdown(document)
    if len(whole) <= budget:
        return [whole]
    head, moved = _fitting_head(document, budget - FOOTER_ROOM)
    packer = _Packer(budget - FOOTER_ROOM, head, heading(document) + ", continued\n")
    parts = packer.pack([Piece(line) for line in moved] + body_pieces(document))
    return [part + _footer(number, len(parts)) for number, part in enumerate(parts, start=1)]


def _fitting_head(document: dict[str, Any], room: int) -> tuple[str, list[str]]:
    """The first comment's head, and the notices it left for the next pieces."""
    for grouped, notices in ((False, True), (True, True), (True, False)):
        head = "\n".join(head_lines(document, grouped=grouped, notices=notices)) + "\n"
        if len(head) <= room:
            return head, [] if notices else notice_lines(document)
    raise CmkError(f"the plan's summary and its forbidden and irreversible steps take {len(head)} characters, more "
                   f"than one comment holds ({room}); plan fewer objects at once (--target)")


def _footer(number: int, total: int) -> str:
    more = f" It continues in comment {number + 1}." if number < total else ""
    return f"\n---\n_cmkctl plan, comment {number} of {total}.{more}_\n"


@dataclass
class _Packer:
    room: int
    head: str
    continued: str
    parts: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    size: int = 0
    table: str | None = None
    started: set[str] = field(default_factory=set)

    def pack(self, pieces: list[Piece]) -> list[str]:
        self._begin(self.head)
        for piece in pieces:
            self._add(piece)
        self._close()
        return self.parts

    def _add(self, piece: Piece) -> None:
        text = self._joint(piece) + piece.text
        if self.size + len(text) + 1 > self.room and self.size > len(self.lines[0]) + 1:
            self._close()
            self._begin(self.continued)
            text = self._joint(piece) + piece.text
        self._append(self._fitted(text, piece.closing))
        self.table = piece.region
        if piece.region is not None:
            self.started.add(piece.region)

    def _fitted(self, text: str, closing: str) -> str:
        """A piece too long for any comment (one change block of a huge value), cut, its blocks closed
        (an open code block would swallow what follows), saying so."""
        room = self.room - len(self.continued) - len(CUT) - len(closing) - 2
        return text if len(text) <= room + len(closing) else text[:room] + "\n" + closing + CUT

    def _joint(self, piece: Piece) -> str:
        """What goes before the piece: a table's heading when it starts one, a blank line when it ends one."""
        if piece.region == self.table:
            return ""
        ending = "\n" if self.table is not None else ""
        if piece.region is None:
            return ending
        return ending + table_start(piece.region, continued=piece.region in self.started) + "\n"

    def _begin(self, first: str) -> None:
        self.lines, self.size, self.table = [], 0, None
        self._append(first)

    def _append(self, text: str) -> None:
        self.lines.append(text)
        self.size += len(text) + 1

    def _close(self) -> None:
        self.parts.append("\n".join(self.lines).rstrip() + "\n")
