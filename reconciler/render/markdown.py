"""Markdown for a pull request comment: deterministic, so CI can update one comment in place."""

from __future__ import annotations

from typing import Any

from reconciler.render.values import SYMBOLS, VERBS, lookup_result, show, summary_line


def render_markdown(document: dict[str, Any]) -> str:
    steps = document["steps"]
    lines = [f"### cmkctl plan for key set `{document['key_set']}`", "", f"**{summary_line(document['summary'])}**", ""]
    lines += _callouts(steps, document["notices"])
    drifted = [s for s in steps if s.get("drift")]
    if drifted:
        lines += ["**Live differs from the manifest** (drift outside cmkctl, or a change of the manifest): "
                  + ", ".join(f"`{s['address']}`" for s in drifted), ""]
    for region in sorted({s["region"] for s in steps}):
        lines += _region_table(region, [s for s in steps if s["region"] == region])
    return "\n".join(lines).rstrip() + "\n"


def _callouts(steps: list[dict[str, Any]], notices: list[dict[str, Any]]) -> list[str]:
    lines = []
    for step in steps:
        action = step["actions"][0]
        if action == "forbidden":
            lines.append(f"> [!CAUTION]\n> **Forbidden** `{step['address']}`: {step['reason']}\n")
        elif step["irreversible"] and action in ("create", "update"):
            lines.append(f"> [!WARNING]\n> **Irreversible** `{step['address']}`: {step['reason'] or VERBS[action]}\n")
    for notice in notices:
        if not notice["region"]:  # about the plan as a whole
            lines.append(f"> [!WARNING]\n> **Partial plan**: {notice['message']} (`{notice['code']}`)\n")
            continue
        label = "Unmanaged, left in place" if notice["level"] == "info" else notice["region"]
        lines.append(f"> [!NOTE]\n> **{label}** ({notice['region']}): {notice['message']} (`{notice['code']}`)\n")
    return lines


def _region_table(region: str, steps: list[dict[str, Any]]) -> list[str]:
    lines = [f"#### {region}", "", "| | object | action |", "|---|---|---|"]
    for step in steps:
        action = step["actions"][0]
        label = action + (" (drift)" if step.get("drift") else "") + (" **irreversible**" if (
            step["irreversible"] and action in ("create", "update")) else "")
        lines.append(f"| `{SYMBOLS[action].strip() or '='}` | `{step['address']}` | {label} |")
    lines.append("")
    for step in steps:
        action = step["actions"][0]
        if action in ("create", "update", "forbidden") and step["changes"]:
            lines += ["<details><summary><code>" + step["address"] + "</code></summary>", "", "```diff"]
            for change in step["changes"]:
                if action == "create":
                    lines.append(f"+ {change['name']} = {show(change['after'])}")
                else:
                    lines.append(f"- {change['name']} = {show(change['before'])}")
                    lines.append(f"+ {change['name']} = {show(change['after'])}")
            lines += ["```", "", "</details>", ""]
        elif action == "read":
            lines += [f"`{step['address']}`: {lookup_result(step)}", ""]
    return lines
