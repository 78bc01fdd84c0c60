"""How every command names its manifests: `-f PATH` (a file, a folder, or `-` for standard input), and
what the loader left out, said on stderr."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from reconciler.core.printable import visible_lines

if TYPE_CHECKING:
    from reconciler.manifest.loader import LoadedManifests
    from reconciler.manifest.model import KeySet

FILE_HELP = "A manifest file or folder (its *.yaml and *.yml files), or - for standard input. Repeatable."


def manifests_option(*, required: bool = True, help: str = FILE_HELP) -> Callable[[Any], Any]:
    return click.option("-f", "--file", "paths", multiple=True, required=required, metavar="PATH", help=help)


def load_key_set(paths: Sequence[str]) -> tuple[KeySet, LoadedManifests]:
    from reconciler.manifest.loader import load_one
    from reconciler.systems import PLUGINS

    key_set, loaded = load_one(paths, plugins=PLUGINS)
    tell_notes(loaded)
    return key_set, loaded


def tell_notes(loaded: LoadedManifests) -> None:
    for note in loaded.notes:
        click.echo(f"Note: {visible_lines(note)}", err=True)
