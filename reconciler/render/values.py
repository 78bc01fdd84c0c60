"""How values read in a plan, shared by the text and markdown renderers."""

from __future__ import annotations

import json
from typing import Any

from reconciler.core.printable import json_visible

KNOWN_AFTER_APPLY = "(known after apply)"

VERBS = {
    "create": "will be created",
    "update": "will be updated in-place",
    "read": "will be read",
    "forbidden": "cannot be changed as declared",
    "no-op": "is up to date",
}
SYMBOLS = {"create": "+", "update": "~", "read": "<=", "forbidden": "!", "no-op": " "}


def show(value: Any) -> str:
    """A value as JSON on one line: ASCII only, every control character escaped (DEL too)."""
    if isinstance(value, dict) and set(value) == {"$unknown"}:
        return KNOWN_AFTER_APPLY
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json_visible(json.dumps(_plain(value), sort_keys=True))
    return json_visible(json.dumps(value))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$unknown"}:
            return KNOWN_AFTER_APPLY
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def summary_line(summary: dict[str, int]) -> str:
    if not summary["create"] and not summary["update"] and not summary["forbidden"]:
        return "No changes. Live state matches the manifests."
    line = f"Plan: {summary['create']} to create, {summary['update']} to update, {summary['no-op']} unchanged"
    if summary["irreversible"]:
        line += f", {summary['irreversible']} irreversible"
    if summary["forbidden"]:
        line += f", {summary['forbidden']} forbidden"
    return line + "."


def lookup_result(step: dict[str, Any]) -> str:
    ids = step["live"].get("providerIds") or []
    return "provider IDs: " + (", ".join(map(str, ids if isinstance(ids, list) else [ids])) or "none")
