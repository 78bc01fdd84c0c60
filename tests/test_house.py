"""The house holds its shape: no modules import each other in a circle, and ARCHITECTURE.md draws
the layers that import-linter checks."""

from __future__ import annotations

import re
import tomllib

import grimp

from tests.conftest import ROOT


def circles(graph: grimp.ImportGraph) -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative: the graph is deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []
    for start in sorted(graph.modules):
        if start not in index:
            _visit(graph, start, index, low, stack, found)
    return found


def _visit(graph: grimp.ImportGraph, start: str, index: dict[str, int], low: dict[str, int], stack: list[str],
           found: list[set[str]]) -> None:
    on_stack: set[str] = set()
    work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
    index[start] = low[start] = len(index)
    stack.append(start)
    on_stack.add(start)
    while work:
        module, imported = work[-1]
        for other in imported:
            if other not in index:
                index[other] = low[other] = len(index)
                stack.append(other)
                on_stack.add(other)
                work.append((other, iter(sorted(graph.find_modules_directly_imported_by(other)))))
                break
            if other in on_stack:
                low[module] = min(low[module], index[other])
        else:
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == module:
                        break
                if len(group) > 1:
                    found.append(group)


def test_no_modules_import_each_other_in_a_circle() -> None:
    assert circles(grimp.build_graph("reconciler", "cmkctl_sandbox")) == []


def test_the_circle_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.d", imported="a.b")
    assert circles(graph) == [{"a.b", "a.c"}]


def drawn_layers() -> list[str]:
    text = (ROOT / "ARCHITECTURE.md").read_text()
    block = text.split("<!-- layers -->", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    rows = [line for line in block.splitlines() if line.strip() and line.strip() != "│"]
    return [re.split(r"\s{2,}", row.strip(), maxsplit=1)[0] for row in rows]


def contract_layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    layers: list[str] = next(c["layers"] for c in contracts if c["type"] == "layers")
    return layers


def test_the_architecture_picture_draws_the_checked_layers() -> None:
    assert drawn_layers() == contract_layers()


def test_every_package_of_the_top_level_stands_on_a_layer() -> None:
    on_layers = {name.strip() for row in contract_layers() for name in row.split("|")}
    packages = {p.name for p in (ROOT / "reconciler").iterdir() if (p / "__init__.py").exists()}
    assert packages == on_layers
