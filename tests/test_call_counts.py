"""Regression guards on how many calls a plan makes (counts, never times: see benchmarks/)."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from cmkctl_sandbox.state import read_calls
from reconciler.core.errors import ProviderError
from reconciler.core.retry import RetryPolicy
from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.engine.planner import Planner
from reconciler.engine.refresh import Refresh
from reconciler.manifest.loader import load_one
from reconciler.plan.model import Resource, Unknown
from reconciler.plugins import PluginTable
from reconciler.providers.base import Capability
from reconciler.providers.cache import RunCache
from reconciler.systems import PLUGINS
from reconciler.usecases.session import RunOptions, handlers_for
from tests.conftest import EXAMPLES, Result
from tests.fakeclock import FakeClock

ALL_SYSTEMS = EXAMPLES / "all-systems.yaml"

# The refresh of a no-op plan of all-systems.yaml (45 declared objects): Astra's 5 provider-ID
# look-ups and one key list per product; one Confluent BYOK list and one cluster list; Graph's
# 7 service principals in 1 look-up (the Astra and Cosmos DB ones wait for the 2 Confluent
# applications, known once their BYOK keys are read: 15 fit in one request); ARM: 1 vault list for the resource group (it
# also answers the access policy), for each of the 6 keys its vault's key list (it says whether
# the key exists, and the unmanaged report reads it too) and the key (ARM's list lacks type, size
# and versioned URI), 6 role-assignment lists (`atScope()` at each scope the 10 assignments are
# on: the 5 vaults and the VNet; listed at a resource group, ARM answers nothing below it),
# one list each of the group's identities, Mongo clusters and Cassandra
# clusters, and the data center; AWS: STS once, then DescribeKey, GetKeyPolicy and
# GetKeyRotationStatus for each of 3 keys (tags are create-only: not read).
NO_OP_REFRESH = {"astra": 7, "confluent": 2, "graph": 1, "arm": 23, "aws": 10}
# What `cmkctl plan` adds for its report of what the key set no longer declares: the
# subscription's vaults. The vaults' key lists, Astra's and Confluent's are the refresh's.
UNMANAGED_REPORT = {"arm": 1}


@pytest.fixture(autouse=True)
def passwords(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CASSANDRA_ADMIN_PASSWORD", "canary-cassandra-7d1f")
    monkeypatch.setenv("MONGO_ADMIN_PASSWORD", "canary-mongo-93ab")


def _query(call: Mapping[str, Any]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted((call.get("query") or {}).items()))


def _plan_calls(sandbox: Path, parallelism: int) -> list[dict[str, Any]]:
    key_set, loaded = load_one([str(ALL_SYSTEMS)], plugins=PLUGINS)
    before = len(read_calls(sandbox))
    with handlers_for(key_set, RunOptions(sandbox=sandbox, parallelism=parallelism)) as handlers:
        plan = Planner(handlers.by_kind, plugins=PLUGINS, parallelism=parallelism).plan(key_set, loaded)
    assert not plan.has_changes
    return read_calls(sandbox)[before:]


def test_a_no_op_plan_reads_each_scope_once(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    assert cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve").code == 0
    for parallelism in (1, 16, DEFAULT_PARALLELISM):
        calls = _plan_calls(sandbox, parallelism)
        assert dict(collections.Counter(c["plane"] for c in calls)) == NO_OP_REFRESH, parallelism
        assert sum(NO_OP_REFRESH.values()) <= 45  # at most one call per declared object
        https = collections.Counter((c["method"], c["path"], _query(c)) for c in calls if c["plane"] != "aws")
        assert [path for path, count in https.items() if count > 1] == []  # nothing read twice
        assert not any(c["mutating"] for c in calls)


def test_the_unmanaged_report_reuses_the_plans_lists(cmkctl: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = tmp_path / "sandbox"
    assert cmkctl("apply", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--auto-approve").code == 0
    before = len(read_calls(sandbox))
    assert cmkctl("plan", "-f", ALL_SYSTEMS, "--sandbox", sandbox, "--detailed-exitcode").code == 0
    calls = read_calls(sandbox)[before:]
    expected = collections.Counter(NO_OP_REFRESH) + collections.Counter(UNMANAGED_REPORT)
    assert collections.Counter(c["plane"] for c in calls) == expected
    https = collections.Counter((c["method"], c["path"], _query(c)) for c in calls if c["plane"] != "aws")
    assert [path for path, count in https.items() if count > 1] == []


# ---- the per-run cache ----------------------------------------------------------------------


def test_concurrent_askers_share_one_fetch() -> None:
    cache, fetches, release = RunCache(), [], threading.Event()

    def fetch() -> str:
        fetches.append(1)
        release.wait(timeout=30)
        return "listed"

    answers: list[str] = []
    first = threading.Thread(target=lambda: answers.append(cache.get("scope", fetch)))
    first.start()
    while "scope" not in cache._gates or not cache._gates["scope"].locked():
        pass  # until the first fetch is in flight
    others = [threading.Thread(target=lambda: answers.append(cache.get("scope", fetch))) for _ in range(7)]
    for thread in others:
        thread.start()
    release.set()
    for thread in [first, *others]:
        thread.join()
    assert answers == ["listed"] * 8
    assert len(fetches) == 1


def test_a_write_during_a_fetch_is_not_hidden_by_it() -> None:
    cache = RunCache()

    def stale_fetch() -> str:
        cache.forget("scope")  # a write to the scope lands while the list is in flight
        return "before the write"

    assert cache.get("scope", stale_fetch) == "before the write"
    assert cache.get("scope", lambda: "after the write") == "after the write"


# ---- reads wait only for what they need ---------------------------------------------------


class _Recorder:
    kind = "thing"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, failing: str = "") -> None:
        self.order: list[str] = []
        self.failing = failing

    def read(self, *, identity: Mapping[str, Any]) -> dict[str, Any] | None:
        if identity["name"] == self.failing:  # as a plane fails a read: the provider seam's error
            raise ProviderError("boom", plane="test")
        self.order.append(identity["name"])
        return {"id": identity["name"] + "-id"}

    def create(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("must not be called")

    def update(self, *, identity: Mapping[str, Any], attributes: Mapping[str, Any],
               live: Mapping[str, Any]) -> dict[str, Any]:
        raise AssertionError("must not be called")


def _resource(name: str, **kwargs: Any) -> Resource:
    return Resource(address=name, kind="thing", region="r", identity={"name": name, **kwargs.pop("extra", {})},
                    attributes={}, **kwargs)


def _refresh(handler: _Recorder, resources: list[Resource]) -> Refresh:
    planner = Planner({"thing": handler}, plugins=PluginTable(()), parallelism=1)
    return Refresh(planner.handlers, 1, RetryPolicy(clock=FakeClock()), read=planner._read,
                   identity=planner._identity)


def test_apply_order_does_not_hold_reads_back() -> None:
    handler = _Recorder()
    # "registration" is applied after "grant", but reading it needs nothing from "grant".
    resources = [_resource("grant", extra={"principal": Unknown("principal", "id")}),
                 _resource("principal"), _resource("registration", depends_on=("grant",))]
    live = _refresh(handler, resources).run(resources, {})
    assert handler.order.index("registration") < handler.order.index("grant")
    assert live["grant"] == {"id": "grant-id"}


def test_a_failed_read_skips_only_what_needs_it() -> None:
    handler = _Recorder(failing="principal")
    resources = [_resource("principal"), _resource("grant", extra={"principal": Unknown("principal", "id")}),
                 _resource("vault")]
    with pytest.raises(Exception, match="grant not read: principal failed") as raised:
        _refresh(handler, resources).run(resources, {})
    assert "reading principal: boom" in str(raised.value)
    assert handler.order == ["vault"]


def test_reads_start_with_the_longest_chain_behind_them() -> None:
    handler = _Recorder()
    # "a-cluster" sorts first and nothing waits for it; "vault" heads vault -> key -> grant.
    resources = [_resource("a-cluster"), _resource("vault"),
                 _resource("key", parent="vault"),
                 _resource("grant", extra={"key": Unknown("key", "id")})]
    _refresh(handler, resources).run(resources, {})
    assert handler.order[0] == "vault"
    assert handler.order.index("key") < handler.order.index("grant")


class _Batched(_Recorder):
    """Answers up to `prefetch_batch` reads per look-up, like Graph's `appId in (...)`."""

    capabilities = frozenset({Capability.BATCH_READ})
    prefetch_batch = 15

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[int] = []
        self.found: set[str] = set()

    def prefetch(self, *, identities: list[Mapping[str, Any]]) -> None:
        self.lookups.append(len(identities))
        self.found.update(i["name"] for i in identities)

    def read(self, *, identity: Mapping[str, Any]) -> dict[str, Any] | None:
        if identity["name"].startswith("principal") and identity["name"] not in self.found:
            self.lookups.append(1)  # a read the prefetch did not answer costs a call of its own
        return super().read(identity=identity)


def _principal(name: str, app: str) -> Resource:
    return Resource(address=name, kind="principal", region="r", identity={"name": name, "appId": Unknown(app, "id")},
                    attributes={})


def _batched_refresh(keys: _Recorder, principals: _Batched, parallelism: int) -> Refresh:
    planner = Planner({"thing": keys, "principal": principals}, plugins=PluginTable(()),
                      parallelism=parallelism)
    return Refresh(planner.handlers, parallelism, RetryPolicy(clock=FakeClock()), read=planner._read,
                   identity=planner._identity)


@pytest.mark.parametrize("parallelism", [1, 4, 16])
def test_principals_that_become_readable_one_by_one_are_looked_up_fifteen_at_a_time(parallelism: int) -> None:
    keys, principals = _Recorder(), _Batched()
    # Each principal's app ID is known only once its own BYOK key is read, one after another.
    resources = [*(_resource(f"byok{i:02}") for i in range(20)),
                 *(_principal(f"principal{i:02}", f"byok{i:02}") for i in range(20))]
    _batched_refresh(keys, principals, parallelism).run(resources, {})
    assert sorted(principals.lookups, reverse=True) == [15, 5]
    assert len(keys.order) == 20 and len(principals.order) == 20


def test_held_reads_are_released_when_what_they_wait_for_fails() -> None:
    keys, principals = _Recorder(failing="byok01"), _Batched()
    resources = [_resource("byok00"), _resource("byok01"),
                 _principal("principal00", "byok00"), _principal("principal01", "byok01")]
    with pytest.raises(Exception, match="principal01 not read: byok01 failed"):
        _batched_refresh(keys, principals, 2).run(resources, {})
    assert principals.order == ["principal00"]  # not left waiting for a batch that cannot fill


def test_a_handler_is_asked_to_batch_only_when_it_declares_it() -> None:
    class Undeclared(_Batched):
        capabilities: frozenset[Capability] = frozenset()  # has `prefetch`, does not say so

    keys, principals = _Recorder(), Undeclared()
    resources = [*(_resource(f"byok{i:02}") for i in range(3)),
                 *(_principal(f"principal{i:02}", f"byok{i:02}") for i in range(3))]
    _batched_refresh(keys, principals, 1).run(resources, {})
    assert principals.lookups == [1, 1, 1] and principals.found == set()
