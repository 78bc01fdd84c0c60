"""Export these regions: a manifest of what already exists in the key set's accounts."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.engine.export import Exported, export
from reconciler.manifest.model import KeySet
from reconciler.usecases.session import RunOptions, inventory_for


def export_regions(key_set: KeySet, regions: Sequence[str], resource_group: str | None,
                   options: RunOptions) -> Exported:
    """The manifest, and one line for each object that could not be exported."""
    with inventory_for(key_set, options) as lists:
        return export(key_set, lists, regions, resource_group, options.plugins)
