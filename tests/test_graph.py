from __future__ import annotations

import threading

import pytest

from reconciler.engine import graph


def test_layers_put_dependencies_first() -> None:
    order = graph.layers({"key": ["vault"], "vault": [], "grant": ["vault", "sp"], "sp": ["lookup"], "lookup": []})
    assert order == [["lookup", "vault"], ["key", "sp"], ["grant"]]


def test_a_cycle_is_refused() -> None:
    with pytest.raises(graph.CycleError, match="a, b"):
        graph.layers({"a": ["b"], "b": ["a"]})


def test_a_cycle_is_named_link_by_link() -> None:
    with pytest.raises(graph.CycleError) as refused:
        graph.layers({"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"], "e": []})
    message = str(refused.value)
    assert message.startswith("dependency cycle among: a, b, c (")
    assert {"a needs b", "b needs c", "c needs a"} <= set(message[message.index("(") + 1:-1].split(", "))
    # what merely waits on the cycle ("d") is not in it
    assert message[:message.index(" (")] == "dependency cycle among: a, b, c"


def test_dependencies_outside_the_graph_are_not_waited_for() -> None:
    assert graph.layers({"key": ["vault", "elsewhere"], "vault": []}) == [["vault"], ["key"]]


def test_walk_skips_only_the_dependents_of_a_failure() -> None:
    visited: list[str] = []
    failures: dict[str, str] = {}
    skipped: dict[str, str] = {}

    def visit(node: str) -> str:
        if node == "vault-a":
            raise RuntimeError("boom")
        visited.append(node)
        return node

    results = graph.walk(
        {"vault-a": [], "key-a": ["vault-a"], "reg-a": ["key-a"], "vault-b": [], "key-b": ["vault-b"]},
        visit, parallelism=4,
        on_failure=lambda n, e: failures.__setitem__(n, str(e)),
        on_skip=lambda n, because: skipped.__setitem__(n, because),
    )
    assert failures == {"vault-a": "boom"}
    assert skipped == {"key-a": "vault-a", "reg-a": "vault-a"}
    assert sorted(visited) == ["key-b", "vault-b"]
    assert set(results) == {"key-b", "vault-b"}


def test_walk_runs_independent_branches_at_the_same_time() -> None:
    # Both branches must be inside visit together, or the barrier times out.
    barrier = threading.Barrier(2, timeout=10)
    graph.walk({"a": [], "b": []}, lambda n: barrier.wait(), parallelism=2,
               on_failure=lambda n, e: pytest.fail(f"{n}: {e}"), on_skip=lambda n, b: None)


def test_walk_starts_a_node_as_soon_as_its_own_dependencies_are_done() -> None:
    order: list[str] = []
    slow_started = threading.Event()
    release = threading.Event()

    def visit(node: str) -> None:
        if node == "slow":
            slow_started.set()
            assert release.wait(10)
        order.append(node)
        if node == "child-of-fast":
            release.set()

    graph.walk({"slow": [], "fast": [], "child-of-fast": ["fast"]}, visit, parallelism=2,
               on_failure=lambda n, e: pytest.fail(f"{n}: {e}"), on_skip=lambda n, b: None)
    assert order.index("child-of-fast") < order.index("slow")
