"""Manifest paths that mean the same file from any directory of one checkout.

A saved plan names its manifests relative to the root of the repository holding them, so that
`cmkctl apply plan.json` finds them again from any folder of the same checkout (CI downloads the
plan into the root; a person may run it from a subfolder). Outside any repository a path is kept
absolute. The root is the nearest folder holding `.git` (a folder, or a file in a worktree).
"""

from __future__ import annotations

from pathlib import Path

from reconciler.core.errors import CmkError


def repository_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def portable(file: str | Path) -> str:
    """The file's path relative to its repository's root (POSIX slashes), or absolute outside one."""
    resolved = Path(file).resolve()
    root = repository_root(resolved.parent)
    return resolved.as_posix() if root is None else resolved.relative_to(root).as_posix()


def located(name: str, *, cwd: Path | None = None) -> Path:
    """Where a portable path points from `cwd`: absolute as is, else below the checkout's root."""
    if Path(name).is_absolute():
        return Path(name)
    here = (cwd or Path.cwd()).resolve()
    root = repository_root(here)
    if root is None:
        raise CmkError(f"the plan names its manifests relative to a repository's root ({name}), and "
                       f"{here} is in no repository: run cmkctl inside the checkout the plan was made in")
    return root / name
