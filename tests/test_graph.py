from __future__ import annotations

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
