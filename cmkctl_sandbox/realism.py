"""The lags a real cloud has, on by default, each measured in the emulator's time (clock.py).

A new grant is not at once usable, a new principal is not at once visible to Azure RBAC, a new
Confluent BYOK key is validated a while after it is registered, a long-running operation runs for
minutes: the emulator's default world has each of these lags, each with the duration its source
gives (the table below; README.md, "Realistic defaults", names each source, or says it has none).
Its clients wait them out on the emulator's clock, so a run that waits five minutes of propagation
takes milliseconds of wall time.

The lags in force are written into the state at every start (`state["realism"]`, seconds by name):
the defaults, the world's own principal lag (world.yaml `azure.replicationLag.seconds`), then the
lags the `realism` section of the faults configuration names:

    realism: off                          # every lag below 0 (a test that counts calls)
    realism: on                           # the defaults (as no section)
    realism: {grantPropagation: 60}       # one lag changed, the others as they were

A handler reads one with `seconds(state, NAME)`. A state no sandbox started (a unit test's) has
none: every lag is 0 there.

A new lag is one entry in LAGS and one call of `seconds` where the emulator measures it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

State = dict[str, Any]

SECTION = "realism"


@dataclass(frozen=True)
class Lag:
    name: str       # its key in the `realism` section and in state["realism"]
    seconds: float  # the default, in the emulator's time
    what: str       # what waits, in words (README.md's table says the same, with the source)


GRANT_PROPAGATION = "grantPropagation"
PRINCIPAL_REPLICATION = "principalReplication"
CONFLUENT_VALIDATION = "confluentValidation"
VAULT_CREATE = "vaultCreate"
MONGO_CLUSTER_CREATE = "mongoClusterCreate"
MONGO_CLUSTER_UPDATE = "mongoClusterUpdate"
CASSANDRA_CLUSTER_CREATE = "cassandraClusterCreate"
CASSANDRA_DATA_CENTER_CREATE = "cassandraDataCenterCreate"
CASSANDRA_UPDATE = "cassandraUpdate"

LAGS: tuple[Lag, ...] = (
    # Microsoft's own deployer waits 5 minutes for role assignments to propagate
    # (microsoft/CromwellOnAzure#22); Key Vault's RBAC guide bounds it at 10 minutes.
    Lag(GRANT_PROPAGATION, 300.0, "a new role assignment or access-policy entry before a service can use the key"),
    # azure-cli retries a role assignment to a service principal it just made every 5 seconds
    # (`az ad sp create-for-rbac`), its published outputs showing one or two retries; for a new
    # user-assigned identity, 3 and 5 second sleeps were too short and 10 were enough
    # (Azure/azure-cli#8530, Azure/AVDBlueprint#131).
    Lag(PRINCIPAL_REPLICATION, 10.0, "a new service principal, user-assigned or system-assigned identity before "
                                     "Azure RBAC can assign it a role"),
    # Sourceless: Confluent documents the INITIALIZING phase, not its length.
    Lag(CONFLUENT_VALIDATION, 30.0, "a new Confluent BYOK key in INITIALIZING before its first validation"),
    # The long-running operations (operations.py). A vault registers its DNS name in 19 s in the
    # .NET SDK's recording; Mongo vCore's and Managed Cassandra's recorded creates took 8m09s and
    # 5m02s; the other writes have no recorded length.
    Lag(VAULT_CREATE, 19.0, "a new vault in RegisteringDns before it is Succeeded"),
    Lag(MONGO_CLUSTER_CREATE, 489.0, "a Mongo vCore cluster create's operation"),
    Lag(MONGO_CLUSTER_UPDATE, 30.0, "a Mongo vCore cluster PATCH's, or PUT's on an existing cluster, operation"),
    Lag(CASSANDRA_CLUSTER_CREATE, 302.0, "a Managed Cassandra cluster create's operation"),
    Lag(CASSANDRA_DATA_CENTER_CREATE, 30.0, "a Managed Cassandra data center create's operation"),
    Lag(CASSANDRA_UPDATE, 30.0, "a Managed Cassandra cluster's or data center's PATCH, or PUT on an existing one, "
                                "operation"),
)
DEFAULTS: Mapping[str, float] = {lag.name: lag.seconds for lag in LAGS}
OFF: Mapping[str, float] = dict.fromkeys(DEFAULTS, 0.0)


class RealismError(ValueError):
    """The `realism` section is not one the emulator can read."""


def parse(value: Any, where: str = SECTION) -> dict[str, float] | None:
    """The lags a `realism` section sets, by name: None (absent), every lag 0 (`off`, `false`), none
    (`on`, `true`: the defaults stay), or those a mapping of lag names to seconds names."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {} if value else dict(OFF)
    if not isinstance(value, dict):
        raise RealismError(f"{where}: expected off, on, or a mapping of lags to seconds "
                           f"({', '.join(DEFAULTS)})")
    unknown = sorted(str(k) for k in value if k not in DEFAULTS)
    if unknown:
        raise RealismError(f"{where}: unknown lag(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    lags = {}
    for name, seconds in value.items():
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise RealismError(f"{where}.{name}: a number of seconds, 0 or more, is expected, not {seconds!r}")
        lags[name] = float(seconds)
    return lags


def apply(state: State, lags: Mapping[str, float] | None) -> None:
    """Put the lags in force into the state: `lags`, or the defaults."""
    state[SECTION] = dict(DEFAULTS if lags is None else lags)


def seconds(state: State, name: str) -> float:
    """How long lag `name` lasts in this world (0 in a state no sandbox started)."""
    if name not in DEFAULTS:
        raise KeyError(f"no lag named {name!r}; add it to realism.LAGS")
    found: float = state.get(SECTION, {}).get(name, 0.0)
    return found
