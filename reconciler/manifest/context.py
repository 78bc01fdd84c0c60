"""What a section resolver needs: where each value came from, and a place to report problems."""

from __future__ import annotations

from typing import Any

from reconciler.core.errors import Diagnostic
from reconciler.manifest.model import Source
from reconciler.manifest.yamlsource import Document, JsonPath, dotted


class ResolveContext:
    def __init__(self, document: Document) -> None:
        self.document = document
        self.problems: list[Diagnostic] = []

    def source(self, path: JsonPath) -> Source:
        data: Any = self.document.data
        for part in path:
            data = data[part]
        field_lines = {}
        if isinstance(data, dict):
            field_lines = {name: self.document.lines.get((*path, name), 0) for name in data}
        return Source(self.document.file, self.document.line_of(path), dotted(path), field_lines)

    def problem(self, source: Source, field: str, summary: str, rule: str) -> None:
        self.problems.append(source.at(field, summary, rule))
