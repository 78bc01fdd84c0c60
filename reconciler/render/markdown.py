"""Markdown for a pull request comment: deterministic, so CI can update one comment in place.

The head (summary, a blocked plan's reason, forbidden and irreversible steps, notices, drift)
comes first; then a table per region. `render.split` cuts the same pieces into comments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from reconciler.render.escape import code, fence_for, in_html, literal, printable
from reconciler.render.values import SYMBOLS, VERBS, lookup_result, show, summary_line

TABLE_HEADER = ("| | object | action |", "|---|---|---|")


@dataclass(frozen=True)
class Piece:
    """A unit of the body never cut in two: a table row (of `region`'s table) or a block."""

    text: str
    region: str | None = None
    # What closes the piece's blocks when it must be cut short (a code block, <details>).
    closing: str = ""


def render_markdown(document: dict[str, Any]) -> str:
    return "\n".join(head_lines(document) + list(_joined(body_pieces(document)))).rstrip() + "\n"


# Every function below takes the document `printable` made: its strings hold no control character.


def head_lines(document: dict[str, Any], *, grouped: bool = False, notices: bool = True) -> list[str]:
    """The summary and what a reviewer must see first; `grouped`, one callout per reason (shorter);
    without `notices` when they go further down (`notice_lines`)."""
    document = printable(document)
    steps = document["steps"]
    lines = [heading(document), ""]
    lines += _blocked(document["summary"])
    lines += [f"**{summary_line(document['summary'])}**", ""]
    lines += _grouped_callouts(steps) if grouped else _callouts(steps)
    lines += notice_lines(document) if notices else []
    drifted = [s for s in steps if s.get("drift")]
    if drifted and grouped:
        lines += [f"**Live differs from the manifest** for {len(drifted)} object(s), marked (drift) below.", ""]
    elif drifted:
        lines += ["**Live differs from the manifest** (drift outside cmkctl, or a change of the manifest): "
                  + ", ".join(code(s["address"]) for s in drifted), ""]
    return lines


def heading(document: dict[str, Any]) -> str:
    return f"### cmkctl plan for key set {code(printable(document)['key_set'])}"


def _blocked(counts: dict[str, int]) -> list[str]:
    if not counts["forbidden"]:
        return []
    return ["> [!CAUTION]", f"> **This plan is blocked**: {counts['forbidden']} step(s) below are forbidden by a "
            "rule, so `cmkctl apply` refuses it and nothing is changed. Change the manifests (or the live "
            "objects) so that no rule forbids a step, and plan again.", ""]


def _callouts(steps: list[dict[str, Any]]) -> list[str]:
    lines = []
    for step in steps:
        action = step["actions"][0]
        if action == "forbidden":
            lines.append(f"> [!CAUTION]\n> **Forbidden** {code(step['address'])}: {literal(step['reason'])}\n")
        elif _irreversible(step):
            lines.append(f"> [!WARNING]\n> **Irreversible** {code(step['address'])}: "
                         f"{literal(step['reason'] or VERBS[action])}\n")
    return lines


def _grouped_callouts(steps: list[dict[str, Any]]) -> list[str]:
    groups: dict[tuple[str, str], list[str]] = {}
    for step in steps:
        action = step["actions"][0]
        if action == "forbidden":
            groups.setdefault(("Forbidden", step["reason"]), []).append(step["address"])
        elif _irreversible(step):
            groups.setdefault(("Irreversible", step["reason"] or VERBS[action]), []).append(step["address"])
    return [f"> [!{'CAUTION' if label == 'Forbidden' else 'WARNING'}]\n> **{label}** ({len(addresses)}): "
            f"{literal(reason)}\n> " + ", ".join(code(a) for a in addresses) + "\n"
            for (label, reason), addresses in groups.items()]


def _irreversible(step: dict[str, Any]) -> bool:
    return bool(step["irreversible"]) and step["actions"][0] in ("create", "update")


def notice_lines(document: dict[str, Any]) -> list[str]:
    lines = []
    for notice in printable(document)["notices"]:
        said = f"{literal(notice['message'])} ({code(notice['code'])})"
        if not notice["region"]:  # about the plan as a whole
            lines.append(f"> [!WARNING]\n> **Partial plan**: {said}\n")
            continue
        label = "Unmanaged, left in place" if notice["level"] == "info" else literal(notice["region"])
        lines.append(f"> [!NOTE]\n> **{label}** ({literal(notice['region'])}): {said}\n")
    return lines


def body_pieces(document: dict[str, Any]) -> list[Piece]:
    steps = printable(document)["steps"]
    pieces: list[Piece] = []
    for region in sorted({s["region"] for s in steps}):
        pieces += _region_pieces(region, [s for s in steps if s["region"] == region])
    return pieces


def table_start(region: str, *, continued: bool = False) -> str:
    return "\n".join([f"#### {literal(region)}" + (" (continued)" if continued else ""), "", *TABLE_HEADER])


def _joined(pieces: list[Piece]) -> Iterator[str]:
    """The pieces as lines: a table's heading before its first row, a blank line after its last."""
    table: str | None = None
    for piece in pieces:
        if piece.region != table:
            if table is not None:
                yield ""
            if piece.region is not None:
                yield table_start(piece.region)
            table = piece.region
        yield piece.text


def _region_pieces(region: str, steps: list[dict[str, Any]]) -> list[Piece]:
    pieces = [Piece(_row(step), region) for step in steps]
    for step in steps:
        action = step["actions"][0]
        if action in ("create", "update", "forbidden") and step["changes"]:
            pieces.append(_details(step, action))
        elif action == "read":
            pieces.append(Piece(f"{code(step['address'])}: {literal(lookup_result(step))}\n"))
    return pieces


def _row(step: dict[str, Any]) -> str:
    action = step["actions"][0]
    label = action + (" (drift)" if step.get("drift") else "") + (" **irreversible**" if _irreversible(step) else "")
    return f"| `{SYMBOLS[action].strip() or '='}` | {code(step['address'], in_table=True)} | {label} |"


def _details(step: dict[str, Any], action: str) -> Piece:
    diff = []
    for change in step["changes"]:
        if action == "create":
            diff.append(f"+ {change['name']} = {show(change['after'])}")
        else:
            diff.append(f"- {change['name']} = {show(change['before'])}")
            diff.append(f"+ {change['name']} = {show(change['after'])}")
    fence = fence_for("\n".join(diff))
    closing = "\n".join([fence, "", "</details>", ""])
    opening = ["<details><summary><code>" + in_html(step["address"]) + "</code></summary>", "", fence + "diff"]
    return Piece("\n".join([*opening, *diff, closing]), closing=closing)
