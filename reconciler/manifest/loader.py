"""From files to validated `KeySet`s, collecting every problem rather than stopping at the first."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from reconciler.core.errors import Diagnostic, ManifestError
from reconciler.core.printable import cut, quoted
from reconciler.manifest.checkout import portable
from reconciler.manifest.model import KeySet
from reconciler.manifest.plugins import ManifestPlugin
from reconciler.manifest.resolve import resolve_key_set
from reconciler.manifest.yamlsource import STDIN_NAME, Document, dotted, read_source, read_standard_input_source

SCHEMA_NAME = "manifest.v1.json"
# What a manifest of that schema says it is (its apiVersion and kind consts, held equal by tests/test_formats.py):
# export writes these.
API_VERSION, KIND = "cmkctl/v1", "KeySet"


@dataclass(frozen=True)
class LoadedManifests:
    key_sets: tuple[KeySet, ...]
    files: tuple[str, ...]
    digest: str
    # The SHA-256 of each file's bytes as they were parsed, in the order of `files`.
    sha256: tuple[str, ...] = ()
    # What the user is told of files left out: another tool's YAML in a folder (`.pre-commit-config.yaml`).
    notes: tuple[str, ...] = ()


# Booleans in YAML 1.1 (PyYAML's default), strings in the core schema manifests are read with.
YAML_11_BOOLEANS = frozenset({"yes", "no", "on", "off", "y", "n"})


# Called with each file's bytes before they are parsed; raises to refuse the file (a saved plan's check).
Acceptance = Callable[[Path, bytes], None]


def manifest_schema() -> dict[str, Any]:
    text = resources.files("reconciler.manifest").joinpath(SCHEMA_NAME).read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


# `-f -`: the manifests on standard input. A file named `-` is `./-`.
STDIN = Path("-")


@dataclass(frozen=True)
class Inputs:
    """The files to read: those named, a folder's `*.yaml` and `*.yml` files, and STDIN (itself) for `-`."""

    files: list[Path]
    # Found in a folder rather than named: another tool's YAML among them is skipped, not refused.
    from_folders: set[Path]
    problems: list[Diagnostic]


def expand_paths(paths: Iterable[str | Path]) -> Inputs:
    files: list[Path] = []
    from_folders: set[Path] = set()
    problems: list[Diagnostic] = []
    for raw in paths:
        path = Path(raw)
        if str(raw) == "-":
            if STDIN in files:
                problems.append(Diagnostic(STDIN_NAME, None, "", "standard input is read once: give -f - once",
                                           "E-READ"))
            else:
                files.append(STDIN)
        elif path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not found:
                problems.append(Diagnostic(str(path), None, "", "folder holds no *.yaml or *.yml manifest", "E-READ"))
            files.extend(found)
            from_folders.update(found)
        elif path.exists():
            files.append(path)
        else:
            problems.append(Diagnostic(str(path), None, "", "no such file or folder", "E-READ"))
    return Inputs(files, from_folders, problems)


def load(paths: Sequence[str | Path], *, plugins: Sequence[ManifestPlugin],
         accept: Acceptance | None = None) -> LoadedManifests:
    """Every key set in `paths`, resolved by the plug-ins handed in; raises ManifestError with all
    diagnostics when any is found.

    `accept`, when given, sees each file's bytes before they are parsed, and may refuse them.
    """
    inputs = expand_paths(paths)
    diagnostics = inputs.problems
    key_sets: list[KeySet] = []
    digest = hashlib.sha256()
    each: list[str] = []
    files: list[str] = []
    notes: list[str] = []
    for file in inputs.files:
        source = read_standard_input_source() if file is STDIN else read_source(file, accept)
        documents, problems = source.documents, source.problems
        diagnostics.extend(problems)
        if problems or source.content is None:
            continue  # unreadable, too big, not UTF-8, not YAML: the digest is never used then
        if file in inputs.from_folders and documents and not any(map(_is_key_set, documents)):
            notes.append(f"{file}: skipped, not a cmkctl manifest (no document says apiVersion: {API_VERSION})")
            continue
        files.append(STDIN_NAME if file is STDIN else str(file))
        if not documents:
            # validate and plan must agree: a file meant as a manifest that says nothing is an error to both.
            diagnostics.append(Diagnostic(str(file), None, "", "holds no key set (the file is empty or only "
                                          "comments)", "E-EMPTY"))
        # By the portable path: the same checkout gives the same digest from any folder.
        digest.update((STDIN_NAME if file is STDIN else portable(file)).encode() + b"\0" + source.content)
        each.append(hashlib.sha256(source.content).hexdigest())
        for document in documents:
            key_set, problems = _load_document(document, plugins)
            diagnostics.extend(problems)
            if key_set is not None:
                key_sets.append(key_set)
    joined, problems = _cross_set_problems(key_sets)
    diagnostics.extend(problems)
    if diagnostics:
        raise ManifestError(diagnostics)
    return LoadedManifests(tuple(joined), tuple(files), digest.hexdigest(), tuple(each), tuple(notes))


def load_one(paths: Sequence[str | Path], *, plugins: Sequence[ManifestPlugin],
             accept: Acceptance | None = None) -> tuple[KeySet, LoadedManifests]:
    loaded = load(paths, plugins=plugins, accept=accept)
    if len(loaded.key_sets) != 1:
        # Said of the paths given, not of one file among them: no file is at fault.
        names = ", ".join(f"{k.name} in {Path(k.source.file).name}" for k in loaded.key_sets) or "none"
        raise ManifestError([Diagnostic(", ".join(map(str, paths)), None, "", f"plan and apply take exactly one "
                                        f"key set; found {len(loaded.key_sets)} ({names}). Run cmkctl once per "
                                        "key set.", "E-KEYSETS")])
    return loaded.key_sets[0], loaded


def _is_key_set(document: Document) -> bool:
    """Whether a document means to be a manifest, even a broken one: another tool's YAML says none of this."""
    data = document.data
    if not isinstance(data, dict):
        return False
    return (str(data.get("apiVersion", "")).startswith("cmkctl/") or data.get("kind") == KIND
            or "accounts" in data or "regions" in data)


def _load_document(document: Document, plugins: Sequence[ManifestPlugin]) -> tuple[KeySet | None, list[Diagnostic]]:
    from reconciler.manifest import rules

    problems = schema_problems(document)
    if problems:
        return None, problems
    key_set, problems = resolve_key_set(document, plugins)
    if key_set is None:
        return None, problems
    # Rules tolerate dangling references, so the user sees every problem in one run.
    found = problems + rules.check(key_set, plugins)
    return key_set, sorted(found, key=lambda d: (d.file, d.line or 0))


def schema_problems(document: Document) -> list[Diagnostic]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(manifest_schema())
    found: list[Diagnostic] = []
    for error in sorted(validator.iter_errors(document.data), key=lambda e: list(map(str, e.absolute_path))):
        found.extend(_describe(document, error))
    return found


def _describe(document: Document, error: Any) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        return [
            Diagnostic(document.file, document.line_of((*path, extra)), dotted((*path, extra)),
                       f"unknown field {quoted(extra)}; expected one of: {', '.join(sorted(allowed))}", "E-SCHEMA")
            for extra in error.instance
            if extra not in allowed
        ]
    if error.validator == "required":
        return [Diagnostic(document.file, document.line_of(path), dotted(path) or "(document)",
                           error.message, "E-SCHEMA")]
    return [Diagnostic(document.file, document.line_of(path), dotted(path) or "(document)",
                       _message(error), "E-SCHEMA")]


def _message(error: Any) -> str:
    if error.validator == "type":
        said = f"expected {error.validator_value}, got {type(error.instance).__name__} {quoted(error.instance)}"
        if error.validator_value == "boolean" and str(error.instance).lower() in YAML_11_BOOLEANS:
            return f"{said}: manifests read YAML's core schema, where only true and false are booleans"
        return said
    if error.validator in ("enum", "const"):
        expected = error.validator_value if error.validator == "enum" else [error.validator_value]
        return f"{quoted(error.instance)} is not one of {', '.join(map(repr, expected))}"
    if error.validator == "pattern":
        # A grammar too long to read as a regex says what it expects in its title.
        expected = error.schema.get("title") or error.validator_value
        return f"{quoted(error.instance)} does not match {expected}"
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        return "give exactly one of the alternatives (for a role assignment: vault or scope)"
    if error.validator == "not" and set(error.validator_value) == {"required"}:
        return f"{' and '.join(error.validator_value['required'])} exclude each other: declare one"
    if error.validator == "dependentRequired":
        # jsonschema reports one missing dependency per error: "'B' is a dependency of 'A'".
        names = re.findall(r"'([^']+)'", error.message)
        return f"{names[1]} needs {names[0]}" if len(names) == 2 else str(error.message)
    # jsonschema's own words quote the whole value: a 4 MB string would be echoed whole.
    return cut(str(error.message), 300)


def _cross_set_problems(key_sets: Sequence[KeySet]) -> tuple[list[KeySet], list[Diagnostic]]:
    """The key sets once each accounts file has joined the document of its key set that declares regions."""
    by_name: dict[str, list[KeySet]] = {}
    for key_set in key_sets:
        by_name.setdefault(key_set.name, []).append(key_set)
    joined: list[KeySet] = []
    problems: list[Diagnostic] = []
    for group in by_name.values():
        declaring = [k for k in group if not k.accounts_only] or group[:1]
        problems += [_declared_twice(again, declaring[0]) for again in declaring[1:]]
        key_set = declaring[0]
        for accounts_file in (k for k in group if k.accounts_only and k is not declaring[0]):
            key_set, conflicts = _join(key_set, accounts_file)
            problems += conflicts
        joined.append(key_set)
    return joined, problems


def _declared_twice(again: KeySet, first: KeySet) -> Diagnostic:
    return again.source.at("name", f"key set {again.name!r} is declared twice (first in {first.source})",
                           "E-DUPLICATE")


def _join(key_set: KeySet, accounts_file: KeySet) -> tuple[KeySet, list[Diagnostic]]:
    """`key_set` with the accounts its accounts file names; each account both name must agree."""
    ours, theirs = key_set.accounts.flat(), accounts_file.accounts.flat()
    conflicts = [accounts_file.source.at("", f"accounts: {name} is {theirs[name]!r} here but {ours[name]!r} in "
                                         f"{key_set.source}", "E-ACCOUNTS")
                 for name in ours if None not in (ours[name], theirs.get(name)) and ours[name] != theirs[name]]
    accounts = key_set.accounts.joined(accounts_file.accounts)
    return replace(key_set, accounts=accounts, lock=key_set.lock or accounts_file.lock), conflicts
