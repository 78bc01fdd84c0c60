"""The world a fresh sandbox starts in: the defaults, or DIR/world.yaml (see README.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cmkctl_sandbox import cassandra_seed, confluent, confluent_seed, mongo_seed, seed
from cmkctl_sandbox.data_access import DEFAULT_CALLER
from cmkctl_sandbox.errors import Problem, WorldError
from cmkctl_sandbox.ids import DEFAULT_ORG_ID, DEFAULT_TENANT_ID
from cmkctl_sandbox.state import STATE_VERSION, read_state_file
from cmkctl_sandbox.wire import Refusal, State

WORLD_FILE = "world.yaml"

# Allowed keys per section; anything else is reported, because a misspelt key silently ignored
# would seed a different world than the one the author meant.
SECTIONS: dict[str, tuple[str, ...]] = {
    "": ("azure", "astra", "confluent"),
    "azure": (
        "tenantId",
        "replicationLag",
        "caller",
        "softDeletedVaults",
        "vaults",
        "servicePrincipals",
        "roleAssignments",
        "cassandraClusters",
        *mongo_seed.AZURE_KEYS,
    ),
    "azure.replicationLag": ("seconds",),
    "azure.caller": ("inside", "roles"),
    "azure.vaults": (
        "subscription",
        "resourceGroup",
        "name",
        "location",
        "sku",
        "tags",
        "enableRbacAuthorization",
        "enablePurgeProtection",
        "softDeleteRetentionInDays",
        "networkAcls",
        "keys",
    ),
    "azure.vaults.keys": ("name", "kty", "keySize", "curveName", "keyOps", "tags"),
    "azure.softDeletedVaults": ("name", "location", "deletionDate", "scheduledPurgeDate", "purgeProtectionEnabled",
                                "vaultId"),
    "azure.servicePrincipals": ("appId", "objectId", "displayName"),
    "azure.roleAssignments": ("name", "scope", "role", "principalId", "principalType"),
    "astra": ("orgId", "registrations", "accounts", "databases"),
    "astra.registrations": ("product", "provider", "region", "keyID"),
    "astra.accounts": ("product", "provider", "region", "providerIds"),
    "astra.databases": ("id", "name", "cloudProvider", "region", "tier", "status"),
}
REQUIRED: dict[str, tuple[str, ...]] = {
    "azure.vaults": ("subscription", "resourceGroup", "name", "location"),
    "azure.vaults.keys": ("name", "kty"),
    "azure.softDeletedVaults": ("name",),
    "azure.servicePrincipals": ("appId",),
    "azure.roleAssignments": ("scope", "role", "principalId"),
    "astra.registrations": ("product", "provider", "region", "keyID"),
    "astra.accounts": ("product", "provider", "region", "providerIds"),
    "astra.databases": ("name", "cloudProvider", "region"),
}
SECTIONS.update(confluent_seed.SECTIONS)
REQUIRED.update(confluent_seed.REQUIRED)
SECTIONS.update(cassandra_seed.SECTIONS)
REQUIRED.update(cassandra_seed.REQUIRED)
SECTIONS.update(mongo_seed.SECTIONS)
REQUIRED.update(mongo_seed.REQUIRED)
# Planes whose world.yaml section is seeded whole: (section, step(state, section)).
SECTION_SEEDS: tuple[tuple[str, Callable[[State, seed.Section], None]], ...] = (("confluent", confluent_seed.seed),)


def default_state(*, tenant_id: str = DEFAULT_TENANT_ID, org_id: str = DEFAULT_ORG_ID) -> State:
    return {
        "version": STATE_VERSION,
        # Every section is here from the start: a read finding one missing would have to add it.
        "arm": {"vaults": {}, "deletedVaults": {}, "roleAssignments": {}, "userAssignedIdentities": {},
                "cassandraClusters": {}, "mongoClusters": {}, "operations": {}, "pendingOperations": {}},
        "graph": {
            "tenantId": tenant_id,
            "servicePrincipals": {},
            # When each new principal becomes visible to RBAC (replication.py); `seconds` only when
            # world.yaml gives this world its own lag.
            "replication": {"visibleAt": {}},
        },
        "astra": {
            "orgId": org_id,
            "keys": {"serverless": [], "managed-clusters": []},
            "accounts": [],
            "databases": [],
        },
        "confluent": confluent.empty_state(),
        # Who calls (data_access.py): its object ID, whether it is inside the vaults' firewalls, and
        # the roles it holds above every subscription; world.yaml `azure.caller` changes them.
        "caller": dict(DEFAULT_CALLER),
        # A readable copy of moto's KMS state (DIR/kms.pickle is moto's own); see sandbox/aws.py.
        "kms": {"keys": []},
    }


def load_state(directory: Path | str, *, tenant_id: str | None = None, org_id: str | None = None) -> State:
    """The state a sandbox in DIR holds or would start from; nothing is started or written.

    `tenant_id` and `org_id` are whom the caller's credentials belong to in a new world (cmkctl
    passes the manifest's accounts, so a newcomer's first run works); world.yaml overrides them.
    """
    directory = Path(directory)
    saved = read_state_file(directory)
    if saved is None:
        return initial_state(directory, tenant_id=tenant_id or DEFAULT_TENANT_ID, org_id=org_id or DEFAULT_ORG_ID)
    # A state saved before a plane (or an ARM resource type) was emulated gains its empty section.
    for section, empty in default_state().items():
        saved.setdefault(section, empty)
    for section, empty in default_state()["arm"].items():
        saved["arm"].setdefault(section, empty)
    return saved


def initial_state(directory: Path, *, tenant_id: str = DEFAULT_TENANT_ID, org_id: str = DEFAULT_ORG_ID) -> State:
    """The defaults, with DIR/world.yaml seeded over them when it exists."""
    path = directory / WORLD_FILE
    if not path.exists():
        return default_state(tenant_id=tenant_id, org_id=org_id)
    world = yaml.safe_load(path.read_text()) or {}
    return state_from_world(world, source=str(path), tenant_id=tenant_id, org_id=org_id)


def state_from_world(
    world: Any, *, source: str = WORLD_FILE, tenant_id: str = DEFAULT_TENANT_ID, org_id: str = DEFAULT_ORG_ID
) -> State:
    problems: list[Problem] = []

    def report(field: str, summary: str) -> None:
        problems.append(Problem(file=source, field=field, summary=summary))

    _check_shape(world, "", "", report)
    if problems:
        raise WorldError(problems)
    azure, astra = world.get("azure") or {}, world.get("astra") or {}
    state = default_state(tenant_id=azure.get("tenantId", tenant_id), org_id=astra.get("orgId", org_id))
    for field, step in (*seed.STEPS, ("azure.cassandraClusters", cassandra_seed.cassandra_clusters),
                        *mongo_seed.STEPS):
        _seed(field, report, step, (state, azure, astra))
    for name, section_step in SECTION_SEEDS:
        _seed(name, report, _whole_section(section_step, world.get(name) or {}), (state, azure, astra))
    if problems:
        raise WorldError(problems)
    return state


def _seed(
    field: str,
    report: Callable[[str, str], None],
    step: seed.Step,
    args: tuple[State, seed.Section, seed.Section],
) -> None:
    try:
        step(*args)
    except seed.SeedProblem as problem:
        report(problem.field or field, problem.summary)
    except Refusal as refusal:
        # The emulator's own validation (a bad kty, an invalid vault name) speaks for the world too.
        report(field, _refusal_message(refusal))


def _whole_section(step: Callable[[State, seed.Section], None], section: seed.Section) -> seed.Step:
    return lambda state, azure, astra: step(state, section)


def _refusal_message(refusal: Refusal) -> str:
    body = refusal.reply.body or {}
    if "error" in body:
        return str(body["error"]["message"])
    first = body.get("errors", [{}])[0]
    # Astra's envelope says `message`; Confluent's says `detail`.
    return str(first.get("message") or first.get("detail") or refusal)


def _check_shape(node: Any, section: str, where: str, report: Callable[[str, str], None]) -> None:
    """Every mapping holds only known keys and its required ones; lists of sections hold mappings."""
    if not isinstance(node, dict):
        report(where, "expected a mapping")
        return
    for key in node:
        if key not in SECTIONS[section]:
            report(_join(where, str(key)), f"unknown key; expected one of {', '.join(SECTIONS[section])}")
    for key in REQUIRED.get(section, ()):
        if key not in node:
            report(_join(where, key), "required")
    for key, value in node.items():
        child = _join(section, str(key))
        if child in SECTIONS and value is not None:
            _check_child(value, child, _join(where, str(key)), report)


def _check_child(value: Any, section: str, where: str, report: Callable[[str, str], None]) -> None:
    if section in REQUIRED or section == "azure.softDeletedVaults":
        if not isinstance(value, list):
            report(where, "expected a list")
            return
        for index, item in enumerate(value):
            if section == "azure.softDeletedVaults" and isinstance(item, str):
                continue
            _check_shape(item, section, f"{where}[{index}]", report)
        return
    _check_shape(value, section, where, report)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
