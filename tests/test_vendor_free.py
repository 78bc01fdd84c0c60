"""The floors that iterate over the plug-ins name no vendor: a vendor's knowledge lives in its plug-in
(`reconciler/systems/NAME/`), so the next system is its own package and a line in the table.

Read from each module's syntax tree: names, attributes, imports, arguments, string constants and
f-strings count; comments and docstrings do not (they may say why, with an example).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import ROOT

VENDOR = re.compile(r"astra|confluent|cassandra|mongo", re.IGNORECASE)
VENDOR_FREE = ("engine", "plan", "usecases", "render", "cli", "core")


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _words(node: ast.AST) -> Iterator[str]:
    """The words of one node a reader of the code meets (a string inside an f-string is a Constant)."""
    if isinstance(node, ast.Name):
        yield node.id
    elif isinstance(node, ast.Attribute):
        yield node.attr
    elif isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.Import | ast.ImportFrom):
        yield getattr(node, "module", None) or ""
        for alias in node.names:
            yield alias.name
            yield alias.asname or ""
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield node.name
    elif isinstance(node, ast.arg):
        yield node.arg
    elif isinstance(node, ast.keyword):
        yield node.arg or ""


def vendor_names(source: str) -> list[tuple[int, str]]:
    """(line, word) of each vendor a module's code names, comments and docstrings aside."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    return sorted({(getattr(node, "lineno", 0), word) for node in ast.walk(tree) if id(node) not in docstrings
                   for word in _words(node) if VENDOR.search(word)})


def vendors_named_under(root: Path) -> dict[str, list[tuple[int, str]]]:
    return {str(path.relative_to(root)): found for floor in VENDOR_FREE
            for path in sorted((root / "reconciler" / floor).rglob("*.py"))
            if (found := vendor_names(path.read_text("utf-8")))}


def test_no_floor_below_the_front_end_but_the_plug_ins_names_a_vendor() -> None:
    assert vendors_named_under(ROOT) == {}


# Below the plug-ins, where a system's configuration once had to be added by hand: the manifest (its
# accounts, its resolution, the schema's composition) and the providers' seam (`Connection`, `Endpoints`)
# and shared plumbing. A plug-in that needs a field here is missing a generic one.
SEAM = ("manifest", "providers/base.py", "providers/plumbing.py", "providers/registry.py", "plugins")


def seam_vendors_named(root: Path) -> dict[str, list[tuple[int, str]]]:
    paths = (path for part in SEAM for path in sorted((root / "reconciler").glob(part if part.endswith(".py")
                                                                                else f"{part}/**/*.py")))
    return {str(path.relative_to(root)): found for path in paths if (found := vendor_names(path.read_text("utf-8")))}


def test_the_manifest_and_the_providers_seam_name_no_vendor() -> None:
    assert seam_vendors_named(ROOT) == {}


def test_the_vendor_finder_sees_code_and_not_comments_or_docstrings() -> None:
    source = '''"""Astra in a docstring is prose."""
# Confluent in a comment is prose too.
import reconciler.systems.mongo as m


def plan(cassandra_cluster: str, **kw: str) -> str:
    """Mongo, said."""
    call(kind="astra_registration", mongoUri=kw)
    return f"{x} on Confluent Cloud" + settings.astra_token
'''
    assert vendor_names(source) == [
        (3, "reconciler.systems.mongo"), (6, "cassandra_cluster"), (8, "astra_registration"), (8, "mongoUri"),
        (9, " on Confluent Cloud"), (9, "astra_token")]
