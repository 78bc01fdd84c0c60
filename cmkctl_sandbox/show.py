"""A readable listing of a sandbox's state, for `cmkctl sandbox show DIR`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cmkctl_sandbox import realism, replication, show_services
from cmkctl_sandbox.astra import provider_ids
from cmkctl_sandbox.errors import SandboxError
from cmkctl_sandbox.keys import key_resource
from cmkctl_sandbox.rbac import role_guid
from cmkctl_sandbox.roles import ROLE_NAMES
from cmkctl_sandbox.state import STATE_FILE
from cmkctl_sandbox.wire import State
from cmkctl_sandbox.world import WORLD_FILE, load_state

__all__ = ["as_json", "describe", "held_state", "load_state"]


def held_state(directory: Path) -> State:
    """What the sandbox in DIR holds; refused for a folder no sandbox ever ran in or was seeded for."""
    if not (directory / STATE_FILE).exists() and not (directory / WORLD_FILE).exists():
        raise SandboxError(f"{directory} holds no sandbox (no {STATE_FILE}, no {WORLD_FILE}): plan or apply with "
                       f"--sandbox {directory} first, or give the folder of one")
    return load_state(directory)


# Fields named like these hold secrets (administrator passwords, tokens, API secrets, private keys).
SECRET_NAME_PARTS = ("password", "secret", "token", "privatekey", "connectionstring")


def redacted(value: Any) -> Any:
    """`value` with every field named like a secret shown as `***`, at any depth."""
    if isinstance(value, dict):
        return {k: "***" if any(part in str(k).lower() for part in SECRET_NAME_PARTS) else redacted(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def as_json(state: State) -> str:
    """The state as the planes hold it, for programs; a field named like a secret never shows."""
    return json.dumps(redacted(state), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def describe(state: State) -> str:
    services = [*show_services.access_policies(state), *show_services.identities(state),
                *show_services.cassandra(state), *show_services.mongo(state)]
    sections = (_arm(state) + services, _graph(state), _astra(state), _kms(state), show_services.confluent(state))
    return "\n\n".join("\n".join(lines) for lines in sections) + "\n"


def _flag(value: Any) -> str:
    return "on" if value else "off"


def _arm(state: State) -> list[str]:
    arm = state["arm"]
    lines = ["ARM (Key Vault, role assignments)", "  vaults:" if arm["vaults"] else "  vaults: none"]
    for record in arm["vaults"].values():
        lines += _vault(record)
    deleted = sorted(entry["name"] for entry in arm["deletedVaults"].values())
    lines.append(f"  soft-deleted vault names: {', '.join(deleted) if deleted else 'none'}")
    lines.append("  role assignments:" if arm["roleAssignments"] else "  role assignments: none")
    for record in arm["roleAssignments"].values():
        lines += _assignment(state, record)
    return lines


def _vault(record: dict[str, Any]) -> list[str]:
    resource = record["resource"]
    props = resource["properties"]
    acls = props["networkAcls"]
    lines = [
        f"    {resource['name']}  ({resource['location']}, subscription {record['subscriptionId']}, "
        f"resource group {record['resourceGroup']})",
        f"      vaultUri {props['vaultUri']}  sku {props['sku']['name']}  provisioning {props['provisioningState']}",
        f"      rbac {_flag(props['enableRbacAuthorization'])}  "
        f"purge protection {_flag(props.get('enablePurgeProtection'))}  "
        f"soft-delete retention {props['softDeleteRetentionInDays']} days",
        f"      network default {acls['defaultAction']}, bypass {acls['bypass']}, "
        f"{len(acls['ipRules'])} IP rules, {len(acls['virtualNetworkRules'])} VNet rules",
    ]
    if resource["tags"]:
        lines.append(f"      tags {resource['tags']}")
    for key in record["keys"].values():
        lines.append(_key_line(record, key))
    return lines


def _key_line(vault: dict[str, Any], key: dict[str, Any]) -> str:
    props = key_resource(vault, key)["properties"]
    shape = f"{key['kty']} {key.get('keySize') or key.get('curveName')}"
    versions = len(key["versions"])
    plural = "s" if versions > 1 else ""
    line = f"      key {key['name']}  {shape}  {props['keyUri']}  ({versions} version{plural})"
    return line + _rotation_summary(key)


def _rotation_summary(key: dict[str, Any]) -> str:
    """The key's rotation policy in a few words, as `Rotate after P1Y, Notify before P30D, expiry P2Y`."""
    policy = key.get("rotationPolicy")
    if not policy:
        return ""
    words = [f"{a['action']['type']} {'after' if 'timeAfterCreate' in a['trigger'] else 'before expiry'} "
             f"{next(iter(a['trigger'].values()))}" for a in policy["lifetimeActions"]]
    expiry = policy.get("attributes", {}).get("expiryTime")
    return "  policy: " + ", ".join([*words, *([f"versions expire after {expiry}"] if expiry else [])])


def _assignment(state: State, record: dict[str, Any]) -> list[str]:
    guid = role_guid(record["roleDefinitionId"])
    role = ROLE_NAMES.get(guid, guid)
    principal = state["graph"]["servicePrincipals"].get(record["principalId"], {})
    who = f"{record['principalId']}" + (f" ({principal['displayName']})" if principal else "")
    return [
        f"    {role} -> {record['principalType']} {who}",
        f"      scope {record['scope']}",
        f"      name {record['name']}",
    ]


def _graph(state: State) -> list[str]:
    graph = state["graph"]
    lines = [
        f"Microsoft Graph (tenant {graph['tenantId']})",
        f"  replication lag: new principals are invisible to RBAC for "
        f"{realism.seconds(state, realism.PRINCIPAL_REPLICATION):g}s",
        "  service principals (appId -> objectId):" if graph["servicePrincipals"] else "  service principals: none",
    ]
    for sp in graph["servicePrincipals"].values():
        left = replication.invisible_for(state, sp["id"])
        lag = f"  [RBAC cannot see it for {left:.0f}s more]" if left > 0 else ""
        lines.append(f"    {sp['appId']} -> {sp['id']}  {sp['displayName']}{lag}")
    return lines


def _astra(state: State) -> list[str]:
    astra = state["astra"]
    lines = [f"Astra (organization {astra['orgId']})", "  customer keys:"]
    registered = [(product, k) for product, keys in astra["keys"].items() for k in keys]
    lines += [f"    {product:<17}{k['provider']:<7}{k['region']:<16}{k['keyID']}" for product, k in registered]
    if not registered:
        lines[-1] = "  customer keys: none"
    lines.append("  provider accounts (declared in world.yaml or used by a key; other regions get defaults):")
    for product, provider, region in _account_regions(state):
        ids = ", ".join(provider_ids(state, product, provider, region))
        lines.append(f"    {product:<17}{provider:<7}{region:<16}{ids}")
    lines.append("  databases:" if astra["databases"] else "  databases: none")
    for db in astra["databases"]:
        info = db["info"]
        lines.append(f"    {info['name']} ({db['id']})  {info['cloudProvider']} {info['region']}  {db['status']}")
    return lines


def _account_regions(state: State) -> list[tuple[str, str, str]]:
    astra = state["astra"]
    regions = {(a["product"], a["provider"], a["region"]) for a in astra["accounts"]}
    regions |= {(product, k["provider"], k["region"]) for product, keys in astra["keys"].items() for k in keys}
    return sorted(regions)


def _kms(state: State) -> list[str]:
    keys = state.get("kms", {}).get("keys", [])
    lines = ["AWS KMS (moto)", "  keys:" if keys else "  keys: none"]
    for key in keys:
        aliases = ", ".join(key["aliases"]) or "no alias"
        lines += [
            f"    {key['arn']}  ({aliases})",
            f"      {key['keySpec']} {key['keyUsage']}  state {key['keyState']}  rotation {_flag(key['rotation'])}"
            + (f"  description {key['description']!r}" if key["description"] else ""),
            f"      tags {key['tags']}" if key["tags"] else "      tags none",
            "      key policy:",
        ]
        lines += [f"        {line}" for line in _policy_lines(key["policy"])]
    return lines


def _policy_lines(policy: str) -> list[str]:
    try:
        document = json.loads(policy)
    except ValueError:
        return [policy]
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    return [f"{s.get('Sid', '(no Sid)')}: {json.dumps({k: v for k, v in s.items() if k != 'Sid'}, sort_keys=True)}"
            for s in statements]
