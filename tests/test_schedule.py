"""The one scheduler under refresh and apply: order, concurrency, failures, priority and batching."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping

import pytest

from reconciler.engine import graph, schedule
from reconciler.engine.schedule import Batching, Outcome, Priority, Scheduler, each_alone


def walk(dependencies: Mapping[str, Iterable[str]], visit: Callable[[str], object], *, parallelism: int,
         on_failure: Callable[[str, BaseException], None] = lambda n, e: pytest.fail(f"{n}: {e}"),
         on_skip: Callable[[str, str], None] = lambda n, because: pytest.fail(f"{n} skipped")) -> dict[str, object]:
    """Apply's way: each node visited on its own, in the order it became ready."""
    scheduler = Scheduler[object](visit=each_alone(visit), parallelism=parallelism, on_failure=on_failure,
                                  on_skip=on_skip)
    return scheduler.run(dependencies)


def test_walk_skips_only_the_dependents_of_a_failure() -> None:
    visited: list[str] = []
    failures: dict[str, str] = {}
    skipped: dict[str, str] = {}

    def visit(node: str) -> str:
        if node == "vault-a":
            raise RuntimeError("boom")
        visited.append(node)
        return node

    results = walk(
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
    walk({"a": [], "b": []}, lambda n: barrier.wait(), parallelism=2)


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

    walk({"slow": [], "fast": [], "child-of-fast": ["fast"]}, visit, parallelism=2)
    assert order.index("child-of-fast") < order.index("slow")


# ---- order ----------------------------------------------------------------------------------


def test_a_node_is_visited_only_after_every_dependency_and_ready_ones_by_name() -> None:
    order: list[str] = []
    # Ready together, by name; "grant" after both of what it needs, though "key" becomes ready first.
    walk({"vault": [], "key": ["vault"], "sp": ["lookup"], "lookup": [], "grant": ["key", "sp"], "other": []},
         order.append, parallelism=1)
    assert order == ["lookup", "other", "vault", "sp", "key", "grant"]


def test_each_result_is_recorded_before_what_needs_it_starts() -> None:
    recorded: dict[str, object] = {}

    def visit(group: list[str]) -> list[Outcome[str]]:
        (node,) = group
        return [(node, f"{recorded.get('parent', 'nothing')} -> {node}", None)]

    scheduler = Scheduler[str](visit=visit, parallelism=4, on_failure=lambda n, e: pytest.fail(str(e)),
                               on_skip=lambda n, b: pytest.fail(n), on_done=recorded.__setitem__)
    results = scheduler.run({"parent": [], "child": ["parent"]})
    assert results == {"parent": "nothing -> parent", "child": "nothing -> parent -> child"}


# ---- failures -------------------------------------------------------------------------------


def test_a_failure_skips_every_dependant_once_naming_the_failure_and_the_rest_runs() -> None:
    events: list[str] = []

    def visit(node: str) -> None:
        if node in ("vault", "other-vault"):
            raise RuntimeError(f"{node} refused")
        events.append(f"visited {node}")

    # "registration" waits on both failures, directly and not: it is skipped once, for the first.
    walk({"vault": [], "key": ["vault"], "grant": ["key"], "other-vault": [], "registration": ["grant", "other-vault"],
          "cluster": []},
         visit, parallelism=1,
         on_failure=lambda n, e: events.append(f"failed {n}: {e}"),
         on_skip=lambda n, because: events.append(f"skipped {n}: {because}"))
    assert events == ["visited cluster",
                      "failed other-vault: other-vault refused", "skipped registration: other-vault",
                      "failed vault: vault refused", "skipped grant: vault", "skipped key: vault"]


class _Bug(BaseException):
    """Not an Exception: still the nodes' failure, never a walk left waiting for an answer."""


def test_a_group_whose_visit_raises_fails_each_of_its_nodes() -> None:
    failed: dict[str, str] = {}

    def visit(group: list[str]) -> list[Outcome[None]]:
        raise _Bug(f"look-up of {len(group)} refused")

    batching = Batching(key=lambda node: node[:2], sizes={"sp": 3})
    scheduler = Scheduler[None](visit=visit, parallelism=2, on_failure=lambda n, e: failed.__setitem__(n, str(e)),
                                on_skip=lambda n, b: failed.__setitem__(n, f"skipped: {b}"), batching=batching)
    walking = threading.Thread(target=scheduler.run, args=({"sp1": [], "sp2": [], "sp3": [], "grant": ["sp2"]},),
                               daemon=True)
    walking.start()
    walking.join(timeout=10)
    assert not walking.is_alive(), "the walk is still waiting for the failed group"
    assert failed == {"sp1": "look-up of 3 refused", "sp2": "look-up of 3 refused", "sp3": "look-up of 3 refused",
                      "grant": "skipped: sp2"}


def test_a_cycle_is_refused_before_anything_is_visited() -> None:
    visited: list[str] = []
    with pytest.raises(graph.CycleError, match=r"dependency cycle among: key, vault \(.*vault needs key"):
        walk({"cluster": [], "vault": ["key"], "key": ["vault"]}, visited.append, parallelism=2)
    assert visited == []


def test_an_interrupt_lets_what_runs_finish_and_starts_nothing_more() -> None:
    visited: list[str] = []
    both_started = threading.Barrier(2, timeout=10)

    def visit(group: list[str]) -> list[Outcome[None]]:
        if group[0] in ("a", "b"):
            both_started.wait()
        visited.extend(group)
        return [(node, None, None) for node in group]

    def interrupted(node: str, value: None) -> None:
        raise KeyboardInterrupt  # Ctrl-C lands on the walking thread, as the first answer is recorded

    scheduler = Scheduler[None](visit=visit, parallelism=2, on_failure=lambda n, e: pytest.fail(str(e)),
                                on_skip=lambda n, b: pytest.fail(n), on_done=interrupted)
    with pytest.raises(KeyboardInterrupt):
        scheduler.run({"a": [], "b": [], "after-a": ["a"], "after-b": ["b"]})
    assert sorted(visited) == ["a", "b"]  # the one in flight finished; what waited on them never started


# ---- priority -------------------------------------------------------------------------------


def _order_with(priority: Priority, dependencies: Mapping[str, list[str]]) -> list[str]:
    order: list[str] = []
    Scheduler[None](visit=each_alone(order.append), parallelism=1, on_failure=lambda n, e: pytest.fail(str(e)),
                    on_skip=lambda n, b: pytest.fail(n), priority=priority).run(dependencies)
    return order


CHAIN_AND_LEAVES = {"a-cluster": [], "b-identity": [], "vault": [], "key": ["vault"], "grant": ["key"],
                    "other-vault": [], "other-key": ["other-vault"]}


def test_longest_chain_first_starts_the_head_of_the_longest_chain_before_leaves() -> None:
    # vault heads the longest chain; then the two with one behind them; then the rest, as they became ready.
    assert _order_with(schedule.longest_chain_first, CHAIN_AND_LEAVES) == ["vault", "other-vault", "key", "a-cluster",
                                                                  "b-identity", "other-key", "grant"]


def test_first_ready_keeps_the_order_nodes_became_ready_in() -> None:
    assert _order_with(schedule.first_ready, CHAIN_AND_LEAVES) == ["a-cluster", "b-identity", "other-vault", "vault",
                                                          "other-key", "key", "grant"]


def test_chain_heights_count_the_longest_chain_waiting_behind_each_node() -> None:
    dependants = {"vault": ["key", "policy"], "key": ["grant"], "grant": [], "policy": [], "leaf": []}
    assert schedule.chain_heights(dependants.keys(), dependants) == {"vault": 2, "key": 1, "grant": 0, "policy": 0, "leaf": 0}


# ---- batching -------------------------------------------------------------------------------


def _batched(dependencies: Mapping[str, list[str]], size: int, *, parallelism: int = 1,
             failing: str = "") -> tuple[list[list[str]], dict[str, str]]:
    """Visits the nodes with "principal" ones batched; a node "slow" is still running when the batch
    holding principal0 should go: it finishes only once principal0 was visited."""
    groups: list[list[str]] = []
    lock = threading.Lock()
    gone: dict[str, str] = {}
    principal0_visited = threading.Event()

    def visit(group: list[str]) -> list[Outcome[None]]:
        if group == ["slow"] and not principal0_visited.wait(timeout=10):
            pytest.fail("principal0 was held until nothing else ran")
        if "principal0" in group:
            principal0_visited.set()
        with lock:
            groups.append(sorted(group))
        return [(n, None, RuntimeError("boom") if n == failing else None) for n in group]

    Scheduler[None](visit=visit, parallelism=parallelism, on_failure=lambda n, e: gone.__setitem__(n, "failed"),
                    on_skip=lambda n, b: gone.__setitem__(n, f"skipped for {b}"),
                    batching=Batching(key=lambda node: node.rstrip("0123456789"), sizes={"principal": size}),
                    ).run(dependencies)
    return groups, gone


@pytest.mark.parametrize("parallelism", [1, 4, 16])
def test_nodes_that_become_ready_one_by_one_are_visited_a_full_batch_at_a_time(parallelism: int) -> None:
    # Each principal becomes ready only once its own key is visited, one after another.
    dependencies = {**{f"key{i:02}": [] for i in range(20)},
                    **{f"principal{i:02}": [f"key{i:02}"] for i in range(20)}}
    groups, _ = _batched(dependencies, 15, parallelism=parallelism)
    batches = [g for g in groups if g[0].startswith("principal")]
    assert sorted(len(g) for g in batches) == [5, 15]
    assert sorted(n for g in batches for n in g) == [f"principal{i:02}" for i in range(20)]
    assert all(len(g) == 1 for g in groups if not g[0].startswith("principal"))  # other keys are not batched


def test_a_batch_that_cannot_grow_is_not_held_back() -> None:
    groups, _ = _batched({"principal0": [], "principal1": [], "slow": []}, 15, parallelism=2)
    assert sorted(groups) == [["principal0", "principal1"], ["slow"]]


def test_held_nodes_are_released_when_what_they_wait_for_fails() -> None:
    groups, gone = _batched({"key1": [], "principal0": [], "principal1": ["key1"], "slow": []}, 15,
                            parallelism=3, failing="key1")
    assert ["principal0"] in groups  # not left waiting for a batch that cannot fill
    assert gone == {"key1": "failed", "principal1": "skipped for key1"}
