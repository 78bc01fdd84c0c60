"""What this key set once created but no longer declares: reported, never removed.

cmkctl never deletes a vault, a key or a registration. When one leaves the manifest, the plan says
so, so that a reviewer sees the object is left in place on purpose. Found by cmkctl's tags
(`cmkctl-set: NAME`) on vaults and keys, and by the key a registration names.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from reconciler.engine.graph import DEFAULT_PARALLELISM
from reconciler.manifest.model import KeySet
from reconciler.plan.model import Notice, Plan
from reconciler.plugins import PluginTable
from reconciler.plugins.base import unmanaged_notice as _notice


class UnmanagedLists(Protocol):
    """The listings the core's part of the report needs; each plug-in asks the same inventory for its own."""

    def all_vaults(self) -> list[dict[str, Any]]: ...

    def keys(self, resource_group: str, vault: str) -> list[dict[str, Any]]: ...


def _ours(tags: Mapping[str, str] | None, key_set: KeySet) -> bool:
    return tags is not None and tags.get("cmkctl-set") == key_set.name


def unmanaged_notices(key_set: KeySet, plan: Plan, lists: UnmanagedLists, plugins: PluginTable, *,
                      parallelism: int = DEFAULT_PARALLELISM) -> list[Notice]:
    declared_vaults = {v.name.lower(): r.name for r in key_set.regions for v in r.vaults}
    declared_keys = {(k.vault.lower(), k.name.lower()) for r in key_set.regions for k in r.keys}
    listed = lists.all_vaults() if key_set.accounts.azure_subscription_id else []
    vaults = [v for v in listed if v["name"].lower() in declared_vaults or _ours(v.get("tags"), key_set)]
    ours = {v["name"].lower(): v for v in vaults}
    notices = [_notice(v["location"], f"vault {v['name']} carries cmkctl-set: {key_set.name} but is no longer "
                       "declared; cmkctl leaves it and its keys in place")
               for v in vaults if v["name"].lower() not in declared_vaults]
    declared_here = [v for v in vaults if v["name"].lower() in declared_vaults]
    # One list per vault, so independent: read them side by side like the refresh does.
    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="cmkctl-unmanaged") as pool:
        listed_keys = list(pool.map(lambda v: lists.keys(v["resourceGroup"], v["name"]), declared_here))
    for vault, keys in zip(declared_here, listed_keys, strict=True):
        notices += [_notice(vault["location"], f"key {key['name']} in vault {vault['name']} carries cmkctl-set: "
                            f"{key_set.name} but is no longer declared; cmkctl leaves it in place")
                    for key in keys
                    if _ours(key.get("tags"), key_set) and (vault["name"].lower(), key["name"].lower())
                    not in declared_keys]
    notices += [notice for plugin in plugins for notice in plugin.unmanaged(key_set, plan, lists, ours)]
    return sorted(notices, key=lambda n: (n.region, n.message))
