"""Renderers read the serialized plan document only, never planner internals.

Imports the plan and core; never the engine, the use cases, the manifest or a provider.
"""

from __future__ import annotations

from typing import Any

FORMATS = ("text", "markdown", "json")


def render(document: dict[str, Any], fmt: str, *, color: bool = False) -> str:
    if fmt == "json":
        import json

        from reconciler.core.printable import json_visible

        return json_visible(json.dumps(document, indent=2, ensure_ascii=False)) + "\n"
    if fmt == "markdown":
        from reconciler.render.markdown import render_markdown

        return render_markdown(document)
    from reconciler.render.text import render_text

    return render_text(document, color=color)
