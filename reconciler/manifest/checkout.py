"""Manifest paths that mean the same file from any folder of one checkout, and only files in it.

A saved plan names its manifests relative to the root of the checkout holding them, so that
`cmkctl apply plan.json` finds them again from any folder of the same checkout (CI downloads the
plan; a person may run it from a subfolder). The checkout is the nearest folder holding `.git` (a
folder, or a file in a worktree); outside any repository, the folder cmkctl runs in.

A saved plan comes back from a CI artifact, which whoever can edit the artifact controls, so a path
it names is held to what a reviewed file can be before anything is read: relative, normalised (no
`..`, no empty part), a `*.yaml` or `*.yml` file as `-f FOLDER` reads them, reached without a
symlink out of the checkout, and not the plan itself. Absolute paths, `../evil/astra.yaml`,
`/etc/passwd` and the `plan.md` downloaded beside the plan are all refused by these rules.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from reconciler.core.errors import UnreviewedPlanError
from reconciler.core.printable import quoted

MANIFEST_SUFFIXES = (".yaml", ".yml")


def repository_root(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def checkout_root(cwd: Path | None = None) -> Path:
    """The checkout cmkctl runs in: the repository holding the current folder, else the current folder."""
    here = (cwd or Path.cwd()).resolve()
    return repository_root(here) or here


def _root_of(file: Path) -> Path:
    """The checkout a manifest belongs to: its repository, or the folder cmkctl runs in."""
    return repository_root(file.parent) or checkout_root()


def portable(file: str | Path) -> str:
    """The file's path from its checkout's root (POSIX slashes); absolute when it lies outside.

    Absolute paths appear only in plans printed, never in saved ones (`saveable` refuses them).
    """
    resolved = Path(file).resolve()
    root = _root_of(resolved)
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return resolved.as_posix()


def saveable(file: str | Path) -> str | None:
    """Why a plan of this manifest could not be saved (it lies outside the checkout); None if it can."""
    resolved = Path(file).resolve()
    root = _root_of(resolved)
    if not resolved.is_relative_to(root):
        return (f"{file} is outside the checkout ({root}): a saved plan names only files inside the checkout it is "
                "applied from; run cmkctl from the folder (or repository) that holds the manifests")
    here = checkout_root()
    if root != here:
        # The plan records the path from the manifest's own repository, but apply looks in the one it runs in.
        # Refused rather than recorded: a saved plan that named another folder to read from would let whoever
        # edits the artifact point apply at any folder on the runner.
        return (f"{file} belongs to the repository {root}, not to the checkout cmkctl runs in ({here}); apply "
                f"would look for it in {here}: run cmkctl plan and apply from inside {root}")
    return None


def located(name: object, *, plan: Path | None = None, cwd: Path | None = None) -> Path:
    """Where a saved plan's manifest is, from the checkout cmkctl runs in; refused unless it can be
    a reviewed manifest of that checkout (see the module's comment). Nothing is read or echoed."""
    root = checkout_root(cwd)
    why = _not_a_manifest_path(name)
    if why is None:
        assert isinstance(name, str)
        found = root.joinpath(*PurePosixPath(name).parts)
        why = _outside(found, root, plan)
    if why is not None:
        raise UnreviewedPlanError(f"the plan names the manifest {quoted(name)}, which {why}; a saved plan applies "
                                  f"only manifests of the checkout ({root}); nothing was read or changed")
    return found


def _not_a_manifest_path(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "is not a path"
    if name.startswith("/") or "\\" in name or ":" in name or not name.isprintable():
        return "is not a relative path with forward slashes"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "is not a normalised path (no `..`, `.` or empty part)"
    if not name.endswith(MANIFEST_SUFFIXES):
        return "is not a *.yaml or *.yml file"
    return None


def _outside(found: Path, root: Path, plan: Path | None) -> str | None:
    if not found.exists():
        return f"does not exist under {root}: run cmkctl inside the checkout the plan was made in"
    if not found.is_file():  # stat only: a FIFO is never opened
        return "is not a regular file"
    real = found.resolve()
    if not real.is_relative_to(root):
        return "leads out of the checkout through a symlink"
    if plan is not None and real == plan.resolve():
        return "is the plan itself"
    if os.path.islink(found) and not real.name.endswith(MANIFEST_SUFFIXES):
        return "is a symlink to a file that is not a *.yaml or *.yml file"
    return None
