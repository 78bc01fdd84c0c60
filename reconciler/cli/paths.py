"""Paths a user types on the command line, checked as the command line is read.

A plan that reads live state for a minute and then cannot write its `--out` file has wasted the
minute, and the OSError it met reached the user as a bug. Each path is refused up front instead,
saying what is wrong with it (exit 1, as for any usage error).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


# click's ParamType takes no type argument before 8.4, one in 8.4 and two from 8.5. Subclassed bare
# it is ParamType[Any] wherever it is generic, so this one line types against every click pyproject
# allows; before 8.4 the ignore is unused, and allowed to be.
class _PathType(click.ParamType):  # type: ignore[type-arg, unused-ignore]
    """What the path parameters below share: a value that becomes a `Path`."""


class OutputFile(_PathType):
    """A file cmkctl writes: its folder must exist (or, with `make_folder`, be creatable)."""

    name = "file"

    def __init__(self, *, make_folder: bool = False) -> None:
        self.make_folder = make_folder

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        if path.is_dir():
            self.fail(f"{path} is a folder; give the name of a file in it", param, ctx)
        if self.make_folder:
            _make_folder(self, path.parent, param, ctx)
        elif not path.parent.is_dir():
            self.fail(f"{path}: the folder {path.parent} does not exist (create it first)", param, ctx)
        return path


class StateFolder(_PathType):
    """A folder cmkctl keeps state in (a sandbox's): made when absent, refused when it cannot be."""

    name = "directory"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Path:
        path = Path(value)
        _make_folder(self, path, param, ctx)
        return path


def _make_folder(kind: _PathType, folder: Path, param: click.Parameter | None,
                 ctx: click.Context | None) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        kind.fail(f"{folder} is a file, not a folder", param, ctx)
    except OSError as error:
        kind.fail(f"cannot create the folder {folder}: {error.strerror or error}", param, ctx)
