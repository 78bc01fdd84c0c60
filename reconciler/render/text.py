"""Terraform-like text: one block per step that changes something, then a summary line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from reconciler.render.escape import printable
from reconciler.render.values import SYMBOLS, VERBS, lookup_result, show, summary_line

COLORS = {"create": "green", "update": "yellow", "forbidden": "red", "read": "cyan"}


def render_text(document: dict[str, Any], *, color: bool = False) -> str:
    document = printable(document)
    paint = _painter(color)
    count = len(document["steps"])
    lines = [f"Key set {document['key_set']}: {count} object{'' if count == 1 else 's'}.", ""]
    for step in document["steps"]:
        action = step["actions"][0]
        if action == "no-op":
            continue
        lines += _step_block(step, paint)
    for heading, level, style in (("Warnings:", "warning", "yellow"), ("Errors:", "error", "red"),
                                  ("Unmanaged (no longer declared, left in place):", "info", "")):
        notices = [n for n in document["notices"] if n["level"] == level]
        if notices:
            lines.append(paint(heading, style))
            lines += [f"  - {_where(n)}{n['message']} ({n['code']})" for n in notices]
            lines.append("")
    lines.append(paint(summary_line(document["summary"]), "bold"))
    return "\n".join(lines) + "\n"


def _where(notice: dict[str, Any]) -> str:
    return f"[{notice['region']}] " if notice["region"] else ""


def _step_block(step: dict[str, Any], paint: Callable[[str, str], str]) -> list[str]:
    action = step["actions"][0]
    symbol = paint(SYMBOLS[action], COLORS.get(action, ""))
    heading = f"  # {step['address']} {VERBS[action]}"
    if step.get("drift"):
        heading += " (live differs from the manifest)"
    if step["irreversible"] and action in ("create", "update"):
        heading += paint(" (IRREVERSIBLE)", "red")
    lines = [heading]
    if step["reason"]:
        lines.append(f"  # {'refused' if action == 'forbidden' else 'note'}: {step['reason']}")
    if action == "read":
        return [*lines, f"  {symbol} {step['address']}  ({lookup_result(step)})", ""]
    lines.append(f"  {symbol} {step['address']} {{")
    width = max([len(k) for k in step["identity"]] + [len(c["name"]) for c in step["changes"]] + [1])
    if action == "create":
        for name, value in step["identity"].items():
            lines.append(f"      {paint('+', COLORS['create'])} {name.ljust(width)} = {show(value)}")
    for change in step["changes"]:
        lines.append(_change_line(action, change, width, paint))
    return [*lines, "    }", ""]


def _change_line(action: str, change: dict[str, Any], width: int, paint: Callable[[str, str], str]) -> str:
    name = change["name"].ljust(width)
    if action == "create":
        return f"      {paint('+', COLORS['create'])} {name} = {show(change['after'])}"
    marker = paint("!" if action == "forbidden" else "~", COLORS.get(action, ""))
    return f"      {marker} {name} = {show(change['before'])} -> {show(change['after'])}"


def _painter(enabled: bool) -> Callable[[str, str], str]:
    if not enabled:
        return lambda text, style: text
    import click

    def paint(text: str, style: str) -> str:
        if not style:
            return text
        if style == "bold":
            return click.style(text, bold=True)
        return click.style(text, fg=style)

    return paint
